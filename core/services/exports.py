"""The client list as a file: CSV that Russian Excel opens as it is (UTF-8 with a BOM, `;` on
request) or XLSX, streamed row by row so memory stays flat however many clients.

The CSV pieces (`csv_lines`, `csv_delimiter`, `spreadsheet_cell`, `spreadsheet_datetime`,
`attachment`) serve every CSV the service hands out: the mailing report's too."""

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from openpyxl import Workbook

from core.models import Client

BOM = "\ufeff"
CHUNK = 2000
# A cell a spreadsheet would run as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value) -> str:
    """The text of a cell, quoted with `'` when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def spreadsheet_cell_read(text: str) -> str:
    """A cell as `spreadsheet_cell` wrote it, read back: its quoting `'` taken away."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def spreadsheet_datetime(moment) -> str:
    """`2026-11-27 16:05:00` in the active (the reader's) time zone, which Excel in any
    locale reads as a date and time; empty for no moment."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def csv_delimiter(query: QueryDict) -> str:
    """`;` when the query asks `delimiter=semicolon` (what Russian Excel splits on), else `,`."""
    return ";" if query.get("delimiter") == "semicolon" else ","


def csv_lines(header: list[str], rows: Iterable[list[str]], *, delimiter: str) -> Iterator[str]:
    """A CSV file's text, a line at a time, starting with the BOM Excel needs to read UTF-8."""
    writer = csv.writer(_Echo(), delimiter=delimiter)
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def attachment(filename: str) -> str:
    """A Content-Disposition for a download; a name outside ASCII (Cyrillic) is sent
    RFC 5987-encoded (`filename*=utf-8''...`), which browsers save as it is."""
    return content_disposition_header(True, filename)


def _local(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def client_export_header() -> list[str]:
    """The header row, in the language of the request (fixed before the rows stream)."""
    return [
        gettext("Email"),
        gettext("Full name"),
        gettext("Comment"),
        gettext("Tags"),
        gettext("Unsubscribed"),
        gettext("Bounced"),
    ]


def client_export_rows(clients: QuerySet[Client]) -> Iterator[list[str]]:
    """One row a client: email, full name, comment, tags (comma-separated), when it
    unsubscribed and when it bounced (empty: it did not). Two queries a chunk."""
    rows = clients.order_by("email").prefetch_related("tags")
    for client in rows.iterator(chunk_size=CHUNK):
        yield [
            spreadsheet_cell(client.email),
            spreadsheet_cell(client.full_name),
            spreadsheet_cell(client.comment),
            spreadsheet_cell(", ".join(tag.name for tag in client.tags.all())),
            _local(client.unsubscribed_at),
            _local(client.bounced_at),
        ]


class _Echo:
    """A file that hands back what is written to it, for streaming csv.writer's lines."""

    def write(self, value: str) -> str:
        return value


def client_csv_lines(clients: QuerySet[Client], *, delimiter: str = ",") -> Iterator[str]:
    """The CSV file's text, a line at a time, starting with the BOM Excel needs to read UTF-8."""
    # The header is translated now, in the request's language, not when the lines stream.
    return csv_lines(client_export_header(), client_export_rows(clients), delimiter=delimiter)


def client_xlsx_file(clients: QuerySet[Client]) -> tempfile.SpooledTemporaryFile:
    """The XLSX workbook in a temporary file (on disk once large), rewound to its start.

    openpyxl's write-only mode keeps one row in memory at a time.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(gettext("Clients"))
    sheet.append(client_export_header())
    for row in client_export_rows(clients):
        sheet.append(row)
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    return output
