"""The client list as a file: CSV that Russian Excel opens as it is (UTF-8 with a BOM, `;` on
request) or XLSX, streamed row by row so memory stays flat however many clients."""

import csv
import tempfile
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from openpyxl import Workbook

from core.models import Client

BOM = "\ufeff"
CHUNK = 2000
# A cell a spreadsheet would run as a formula (core.views.reports does the same for ledgers).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


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
            _cell(client.email),
            _cell(client.full_name),
            _cell(client.comment),
            _cell(", ".join(tag.name for tag in client.tags.all())),
            _local(client.unsubscribed_at),
            _local(client.bounced_at),
        ]


class _Echo:
    """A file that hands back what is written to it, for streaming csv.writer's lines."""

    def write(self, value: str) -> str:
        return value


def client_csv_lines(clients: QuerySet[Client], *, delimiter: str = ",") -> Iterator[str]:
    """The CSV file's text, a line at a time, starting with the BOM Excel needs to read UTF-8."""
    writer = csv.writer(_Echo(), delimiter=delimiter)
    header = client_export_header()

    def lines() -> Iterator[str]:
        yield BOM + writer.writerow(header)
        for row in client_export_rows(clients):
            yield writer.writerow(row)

    return lines()


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
