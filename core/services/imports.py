"""Importing clients from a CSV or XLSX file: upload, column mapping, preview, then writing.

The file is read as a stream twice (once for the preview, once to write), never held whole:
memory holds one batch of rows and a few sample rows of each group for the preview; the
addresses seen so far (to find duplicates inside the file) are kept in a scratch SQLite file
beside the upload, whose page cache is bounded, so memory does not grow with the file. Every
row passes the client form's own field validation and is stored in the form's normal shape
(core.models.normalize_email_address); the unique constraint on (owner, email) has the last
word when two imports write the same address at once.

A row is, in this order of checks:
- invalid: a field the client form would refuse (missing or bad email, missing or over-long
  name...), reported with the reason; refused, and offered back as a CSV;
- a duplicate: its address came earlier in the file; the first row is kept, this one skipped;
- existing: the address is among the owner's clients; skipped, or (update_existing) its name
  and comment updated. Nothing else of the client changes: an unsubscribed or bounced client
  stays so;
- new: added.
"""

import codecs
import contextlib
import csv
import io
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import (
    Client,
    Import,
    Tag,
    User,
    client_search_text,
    normalize_email_address,
    tag_key,
)
from core.services.exports import spreadsheet_cell_read

FIELDS = ("email", "full_name", "comment")
# The columns a file may map: the client's fields, and its tags (comma-separated names, as the
# export writes them).
COLUMNS = (*FIELDS, "tags")
# Header names that say which column holds what, compared after folding case and spaces.
HEADER_NAMES = {
    "email": ("email", "e-mail", "e mail", "mail", "почта", "адрес", "эл. почта", "емейл"),
    "full_name": ("full name", "fullname", "name", "фио", "имя", "клиент", "полное имя"),
    "comment": ("comment", "comments", "note", "notes", "комментарий", "примечание", "заметка"),
    "tags": ("tags", "tag", "labels", "метки", "метка", "теги", "тег"),
}
# Rows checked against the database and written per query (an IN list of this many).
BATCH = 1000
# Rows of each group the preview keeps to show; the rest are only counted.
PREVIEW_SAMPLE = 20
# Bytes of a CSV file the delimiter is guessed from.
SNIFF_BYTES = 64 * 1024
DELIMITERS = ";,\t"
# Times a batch is retried when a concurrent import inserted one of its addresses first.
WRITE_RETRIES = 3


class ImportFileError(Exception):
    """The file cannot be read as a table; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Row:
    """A data row that passed validation: its number in the file and its cleaned fields."""

    number: int
    email: str
    full_name: str
    comment: str
    tags: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What a preview or a write found, group by group."""

    rows: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("new", "duplicate", "existing", "invalid"), 0)
    )
    suppressed: int = 0  # existing clients that are unsubscribed or bounced
    samples: dict[str, list] = field(
        default_factory=lambda: {"new": [], "duplicate": [], "existing": [], "invalid": []}
    )

    def count(self, group: str, sample: list) -> None:
        self.counts[group] += 1
        if len(self.samples[group]) < PREVIEW_SAMPLE:
            self.samples[group].append(sample)

    def as_json(self) -> dict:
        return {
            "rows": self.rows,
            "counts": self.counts,
            "suppressed": self.suppressed,
            "samples": self.samples,
        }


# --- Reading the file


def import_upload(*, owner: User, uploaded) -> Import:
    """Keep an uploaded file (a Django UploadedFile) under IMPORT_DIR and start its import,
    with the columns guessed from the header row; ImportFileError if it is too large or no
    table can be read from it."""
    if uploaded.size > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(
            _("The file is larger than %(limit)s MB.")
            % {"limit": f"{settings.IMPORT_MAX_BYTES / 1024 / 1024:g}"}
        )
    directory = Path(settings.IMPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path = directory / token
    with path.open("wb") as stored:
        for chunk in uploaded.chunks():
            stored.write(chunk)
    try:
        file_format = _file_format(path)
        header = next(_table_rows(path, file_format), None)
        if header is None:
            raise ImportFileError(_("The file holds no rows."))
    except ImportFileError:
        path.unlink(missing_ok=True)
        raise
    header_cells = [cell.strip()[:100] for cell in header[1]][:100]
    return Import.objects.create(
        owner=owner,
        file_name=Path(uploaded.name or "import").name[:255],
        token=token,
        format=file_format,
        header=header_cells,
        mapping=columns_guess(header_cells),
    )


def import_path(imp: Import) -> Path:
    return Path(settings.IMPORT_DIR) / imp.token


def refused_path(imp: Import) -> Path:
    return Path(settings.IMPORT_DIR) / f"{imp.token}.refused.csv"


def _file_format(path: Path) -> str:
    with path.open("rb") as file:
        start = file.read(8)
    if start.startswith(b"PK\x03\x04"):
        return Import.Format.XLSX
    if start.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("This is an old Excel file (.xls): save it as .xlsx or CSV and upload that.")
        )
    return Import.Format.CSV


def _table_rows(path: Path, file_format: str) -> Iterator[tuple[int, list[str]]]:
    """The non-empty rows of the file, header first, each with its row number as a spreadsheet
    shows it (1 for the header); ImportFileError if the file turns out unreadable."""
    rows = _xlsx_rows(path) if file_format == Import.Format.XLSX else _csv_rows(path)
    for number, cells in enumerate(rows, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def _csv_rows(path: Path) -> Iterator[list[str]]:
    encoding = _csv_encoding(path)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        sample = text.read(SNIFF_BYTES)
        text.seek(0)
        if "\x00" in sample:
            raise ImportFileError(_("This is no CSV file: it holds binary data."))
        reader = csv.reader(text, dialect=_csv_dialect(sample))
        try:
            yield from reader
        except (csv.Error, UnicodeDecodeError) as error:
            raise ImportFileError(
                _("The file cannot be read as CSV (row %(row)s): %(error)s")
                % {"row": reader.line_num, "error": error}
            ) from None


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte order mark) if the whole file decodes as such, else
    cp1251, as Russian Excel saves "CSV (разделители - запятые)"."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        with path.open("rb") as file:
            while chunk := file.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        decoder = codecs.getincrementaldecoder("cp1251")(errors="strict")
        try:
            with path.open("rb") as file:
                while chunk := file.read(1024 * 1024):
                    decoder.decode(chunk)
        except UnicodeDecodeError:
            raise ImportFileError(
                _("The file is neither UTF-8 nor Windows-1251 text: save it as CSV UTF-8.")
            ) from None
        return "cp1251"
    return "utf-8-sig"


def _csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The dialect of the sample's first lines, its delimiter one of ; , and tab."""
    lines = "\n".join(sample.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(lines, delimiters=DELIMITERS)
    except csv.Error:
        # One column, or too few lines to tell: the delimiter the first line holds most of.
        first = lines.split("\n", 1)[0]
        delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","

        class Dialect(csv.excel):
            pass

        Dialect.delimiter = delimiter
        return Dialect


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    # A file object, not the path: openpyxl refuses a path whose name lacks ".xlsx".
    file = path.open("rb")
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception:  # openpyxl raises anything from zipfile, XML parsers and itself
        file.close()
        raise ImportFileError(_("The file cannot be read as an Excel workbook (.xlsx).")) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        except Exception:
            raise ImportFileError(
                _("The file cannot be read as an Excel workbook (.xlsx).")
            ) from None
    finally:
        workbook.close()
        file.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_key(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).casefold()


def columns_guess(header: list[str]) -> dict[str, int | None]:
    """Which column (by index) holds each field, from the header's names in Russian or
    English: an exact name first, then a name within the header ("Адрес эл. почты")."""
    keys = [_header_key(cell) for cell in header]
    mapping: dict[str, int | None] = dict.fromkeys(COLUMNS)
    taken: set[int] = set()
    for exact in (True, False):
        for name in COLUMNS:
            if mapping[name] is not None:
                continue
            for index, key in enumerate(keys):
                if index in taken or not key:
                    continue
                known = HEADER_NAMES[name]
                if key in known if exact else any(word in key for word in known):
                    mapping[name] = index
                    taken.add(index)
                    break
    return mapping


# --- Checking rows


class _RowCheck:
    """The client form's own fields, which clean and validate every row's cells."""

    def __init__(self, owner: User, mapping: dict[str, int | None]) -> None:
        from core.forms import ClientForm

        self.fields = ClientForm(owner=owner).fields
        self.mapping = mapping

    def __call__(self, number: int, cells: list[str]) -> Row | str:
        """The row, or the reason it is refused."""
        values = {}
        for name in (*FIELDS, "tags") if self.mapping.get("tags") is not None else FIELDS:
            index = self.mapping.get(name)
            raw = cells[index] if index is not None and index < len(cells) else ""
            raw = spreadsheet_cell_read(raw)  # an export's own quoting of formula-like text
            form_field = self.fields[name]
            try:
                values[name] = form_field.clean(raw)
            except ValidationError as error:
                return f"{form_field.label}: {error.messages[0]}"
        return Row(
            number=number,
            email=normalize_email_address(values["email"]),
            full_name=values["full_name"],
            comment=values["comment"],
            tags=tuple(values.get("tags", ())),
        )


def _scan(imp: Import, *, written: int = 0) -> Iterator[tuple]:
    """The data rows of the import's file, checked, as events in file order:
    ("invalid", number, cells, reason), ("duplicate", row, kept row number), and
    ("batch", rows, existing): up to BATCH first-seen valid rows with the owner's clients among
    them by address ({email: (id, unsubscribed_at, bounced_at)}), one query a batch. The events
    depend on the file and the mapping only, so a second reading yields the same ones; those
    within the first `written` rows (an interrupted import's) come without that query."""
    check = _RowCheck(imp.owner, imp.mapping)
    pending: list[Row] = []
    seen = 0
    rows = _table_rows(import_path(imp), imp.format)
    next(rows, None)  # the header
    scratch = import_path(imp).with_name(f"{imp.token}.{secrets.token_hex(4)}.seen")
    with _FirstRows(scratch) as first_rows:
        for number, cells in rows:
            row = check(number, cells)
            if isinstance(row, str):
                seen += 1
                yield "invalid", number, cells, row
            elif (kept := first_rows.add(row.email, number)) is not None:
                seen += 1
                yield "duplicate", row, kept
            else:
                pending.append(row)
                if len(pending) >= BATCH:
                    seen += len(pending)
                    yield "batch", pending, _existing(imp.owner, pending) if seen > written else {}
                    pending = []
        if pending:
            seen += len(pending)
            yield "batch", pending, _existing(imp.owner, pending) if seen > written else {}


class _FirstRows:
    """The row number each address of the file first came on, in a scratch SQLite file
    (deleted on exit) with a 2 MB page cache: a dict would grow with the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> "_FirstRows":
        self.path.unlink(missing_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000;"
            "CREATE TABLE seen (email TEXT PRIMARY KEY, number INTEGER) WITHOUT ROWID;"
            "BEGIN;"
        )
        return self

    def add(self, email: str, number: int) -> int | None:
        """Note `email` as first seen on row `number`; None if it is, else the row it was."""
        inserted = self.db.execute(
            "INSERT OR IGNORE INTO seen (email, number) VALUES (?, ?)", (email, number)
        ).rowcount
        if inserted:
            return None
        return self.db.execute("SELECT number FROM seen WHERE email = ?", (email,)).fetchone()[0]

    def __exit__(self, *exc_info) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


def _existing(owner: User, rows: Iterable[Row]) -> dict[str, tuple]:
    emails = [row.email for row in rows]
    found = Client.objects.filter(owner=owner, email__in=emails)
    return {
        email: (pk, unsubscribed_at, bounced_at)
        for email, pk, unsubscribed_at, bounced_at in found.values_list(
            "email", "pk", "unsubscribed_at", "bounced_at"
        )
    }


def _state(unsubscribed_at, bounced_at) -> str:
    if unsubscribed_at is not None:
        return "unsubscribed"
    return "bounced" if bounced_at is not None else ""


def import_preview(*, imp: Import, mapping: dict[str, int | None]) -> Import:
    """Read the whole file under `mapping` and keep what it would do (Import.preview): counts
    of new, duplicate, existing and invalid rows and the first rows of each. Writes nothing
    but the import itself."""
    imp.mapping = mapping
    outcome = Outcome()
    for event in _scan(imp):
        kind = event[0]
        if kind == "invalid":
            _kind, number, cells, reason = event
            outcome.rows += 1
            email_index = mapping.get("email")
            raw = cells[email_index] if email_index is not None and email_index < len(cells) else ""
            outcome.count("invalid", [number, raw[:254], reason])
        elif kind == "duplicate":
            _kind, row, kept = event
            outcome.rows += 1
            outcome.count("duplicate", [row.number, row.email, kept])
        else:
            _kind, rows, existing = event
            outcome.rows += len(rows)
            for row in rows:
                if row.email in existing:
                    state = _state(*existing[row.email][1:])
                    outcome.suppressed += bool(state)
                    outcome.count("existing", [row.number, row.email, row.full_name, state])
                else:
                    outcome.count("new", [row.number, row.email, row.full_name])
    imp.preview = outcome.as_json()
    imp.total_rows = outcome.rows
    imp.status = Import.Status.PREVIEWED
    imp.save(update_fields=["mapping", "preview", "total_rows", "status", "updated_at"])
    return imp


# --- Writing


def import_confirm(*, imp: Import, update_existing: bool, tag_name: str) -> Import:
    """Write a previewed import: a small file now, in one transaction; a larger one
    (more than IMPORT_INLINE_ROWS rows) by a background task, queued in the transaction that
    marks the import confirmed. Does nothing to an import confirmed already."""
    with transaction.atomic():
        claimed = Import.objects.filter(pk=imp.pk, status=Import.Status.PREVIEWED).update(
            status=Import.Status.CONFIRMED,
            update_existing=update_existing,
            tag_name=tag_name,
            updated_at=timezone.now(),
        )
        if claimed and imp.total_rows > settings.IMPORT_INLINE_ROWS:
            import_commit_task.enqueue(imp.pk)
    imp.refresh_from_db()
    if claimed and imp.total_rows <= settings.IMPORT_INLINE_ROWS:
        import_commit(import_id=imp.pk, in_one_transaction=True)
        imp.refresh_from_db()
    return imp


@task
def import_commit_task(import_id: int) -> str:
    """Write a confirmed import in the background (or go on with a resumed one); its final
    status."""
    return import_commit(import_id=import_id)


class _Released(Exception):
    """The writer no longer holds its import: the user cancelled it, or it was found
    interrupted and resumed by another writer. What it was writing is rolled back."""


def import_commit(*, import_id: int, in_one_transaction: bool = False) -> str:
    """Write the confirmed import `import_id`, batch by batch, keeping its progress and counts
    up to date, and the refused rows in a CSV beside the file; its final status. Each batch
    commits on its own together with the progress it makes (so the progress shows, other
    writers are not held up, and an interrupted import goes on from its last batch), unless
    `in_one_transaction`. Only one caller gets to write it: the others return at once."""
    claim = secrets.token_hex(8)
    now = timezone.now()
    claimed = Import.objects.filter(pk=import_id, status=Import.Status.CONFIRMED).update(
        status=Import.Status.RUNNING, claim=claim, progress_at=now, updated_at=now
    )
    imp = Import.objects.select_related("owner").get(pk=import_id)
    if not claimed:
        return imp.status
    writer = _Writer(imp, claim)
    try:
        with transaction.atomic() if in_one_transaction else contextlib.nullcontext():
            writer.write()
    except _Released:
        imp.refresh_from_db(fields=["status"])
        return imp.status
    except ImportFileError as error:
        writer.fail(str(error))
        return Import.Status.FAILED
    except Exception:
        # Not left "importing" for ever; the worker's log keeps the traceback. A writer that
        # lost its import meanwhile (its files tidied away under it) just stops.
        if writer.fail(_("The import stopped on an internal error.")):
            raise
        imp.refresh_from_db(fields=["status"])
        return imp.status
    return Import.Status.DONE


class _Writer:
    """One run of writing an import, holding it by `claim`: every progress it records is
    conditional on still holding it (status running, the same claim), in the transaction of
    the batch it counts, so the recorded progress is always exactly what was written."""

    def __init__(self, imp: Import, claim: str) -> None:
        self.imp = imp
        self.claim = claim

    def _held(self):
        return Import.objects.filter(pk=self.imp.pk, claim=self.claim, status=Import.Status.RUNNING)

    def record(self, **values) -> None:
        """Write `values` and the heartbeat to the import; _Released if it is no longer ours."""
        if not self._held().update(progress_at=timezone.now(), **values):
            raise _Released

    def batch_record(
        self, processed: int, counts: dict[str, int], rows: int, added: int, updated: int
    ) -> None:
        """Record the progress of a batch of `rows` just written, in its transaction."""
        self.record(
            processed_rows=processed,
            added=counts["added"] + added,
            updated=counts["updated"] + updated,
            skipped=counts["skipped"] + rows - added - updated,
            refused=counts["refused"],
        )

    def fail(self, error: str) -> bool:
        """End the import as failed with `error`; False if it was no longer ours."""
        failed = self._held().update(
            status=Import.Status.FAILED, error=error, finished_at=timezone.now()
        )
        if failed:
            scratch_files_delete(self.imp)
        return bool(failed)

    def write(self) -> None:
        """Read the whole file; write and count what comes after the recorded progress (all of
        it on a first run). Rows the progress covers were written, and counted, by an earlier
        run that was interrupted: they are read again only to know the file's duplicates and
        its refused rows, and go into neither the database nor the counts twice."""
        imp = self.imp
        tag = _tag(imp.owner, imp.tag_name) if imp.tag_name else None
        written = imp.processed_rows
        counts = {name: getattr(imp, name) for name in ("added", "updated", "skipped", "refused")}
        processed = reported = 0
        part = Path(settings.IMPORT_DIR) / f"{imp.token}.{self.claim}.refused.part"
        with part.open("w", encoding="utf-8-sig", newline="") as refused_file:
            refused = csv.writer(refused_file, delimiter=";")
            refused.writerow([*imp.header, _("row"), _("reason")])
            for event in _scan(imp, written=written):
                kind = event[0]
                rows = len(event[1]) if kind == "batch" else 1
                processed += rows
                if kind == "invalid":
                    _kind, number, cells, reason = event
                    refused.writerow([*cells, number, reason])
                if processed <= written:
                    if processed - reported >= BATCH:
                        reported = processed
                        self.record()  # the heartbeat, while reading the written part again
                    continue
                if kind == "invalid":
                    counts["refused"] += 1
                elif kind == "duplicate":
                    counts["skipped"] += 1
                else:
                    _kind, batch, existing = event
                    added, updated = _batch_write(
                        imp,
                        batch,
                        existing,
                        tag,
                        partial(self.batch_record, processed, counts, len(batch)),
                    )
                    counts["added"] += added
                    counts["updated"] += updated
                    counts["skipped"] += len(batch) - added - updated
                    reported = processed
                if processed - reported >= BATCH:
                    reported = processed
                    self.record(processed_rows=processed, **counts)
        # Any run that gets here wrote the same refused rows: whichever file lands last is right.
        part.replace(refused_path(imp))
        self.record(
            processed_rows=processed,
            status=Import.Status.DONE,
            finished_at=timezone.now(),
            **counts,
        )
        scratch_files_delete(imp)


def scratch_files_delete(imp: Import) -> None:
    """Delete what writers of the import left beside its file when they were killed: the
    addresses they had seen, the refused rows they had begun. The file itself stays."""
    for pattern in (f"{imp.token}.*.seen", f"{imp.token}.*.refused.part"):
        for path in Path(settings.IMPORT_DIR).glob(pattern):
            path.unlink(missing_ok=True)


# --- Interrupted imports

# Times the scheduler resumes an interrupted import by itself; after that (a file that kills
# its worker every time, say, by running it out of memory) the user decides.
AUTO_RESUMES = 3


def _interrupted(imports):
    """Those of `imports` being written that have shown no progress for
    IMPORT_STALL_SECONDS: their writer is gone."""
    stale_before = timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    return imports.filter(status=Import.Status.RUNNING).filter(
        Q(progress_at__lt=stale_before) | Q(progress_at__isnull=True, updated_at__lt=stale_before)
    )


def import_resume(*, imp: Import) -> bool:
    """Queue an interrupted import to be written on from its last recorded batch; False if it
    is not interrupted (any more): finished, cancelled, or resumed already."""
    now = timezone.now()
    with transaction.atomic():
        resumed = _interrupted(Import.objects.filter(pk=imp.pk)).update(
            status=Import.Status.CONFIRMED,
            resumes=F("resumes") + 1,
            progress_at=now,
            updated_at=now,
        )
        if resumed:
            import_commit_task.enqueue(imp.pk)
    return bool(resumed)


def import_cancel(*, imp: Import) -> bool:
    """End an interrupted import as cancelled, keeping the clients it wrote and its counts of
    them; False if it is not interrupted (any more)."""
    cancelled = _interrupted(Import.objects.filter(pk=imp.pk)).update(
        status=Import.Status.CANCELLED, finished_at=timezone.now()
    )
    if cancelled:
        scratch_files_delete(imp)
    return bool(cancelled)


def imports_resume_interrupted() -> int:
    """Resume every interrupted import resumed fewer than AUTO_RESUMES times (the scheduler's
    tick); how many. Two ticks at once resume each import once: the resume is conditional."""
    found = _interrupted(Import.objects.filter(resumes__lt=AUTO_RESUMES))
    return sum(import_resume(imp=imp) for imp in found.only("pk"))


def _tag(owner: User, name: str) -> Tag:
    """The owner's tag of that name, made if missing (a concurrent maker wins the race)."""
    key = tag_key(name)
    try:
        with transaction.atomic():
            return Tag.objects.get_or_create(owner=owner, key=key, defaults={"name": name})[0]
    except IntegrityError:
        return Tag.objects.get(owner=owner, key=key)


def _tags_from_file(owner: User, rows: list[Row]) -> None:
    """Give the written rows the tags of their file's tags column (made if missing); a client
    keeps the tags it had."""
    tagged = [row for row in rows if row.tags]
    if not tagged:
        return
    tags: dict[str, Tag] = {}
    for row in tagged:
        for name in row.tags:
            if tag_key(name) not in tags:
                tags[tag_key(name)] = _tag(owner, name)
    ids = dict(
        Client.objects.filter(owner=owner, email__in=[row.email for row in tagged]).values_list(
            "email", "pk"
        )
    )
    Client.tags.through.objects.bulk_create(
        [
            Client.tags.through(client_id=ids[row.email], tag_id=tags[tag_key(name)].pk)
            for row in tagged
            if row.email in ids
            for name in row.tags
        ],
        ignore_conflicts=True,
    )


def _batch_write(
    imp: Import,
    rows: list[Row],
    existing: dict[str, tuple],
    tag: Tag | None,
    checkpoint: Callable[[int, int], None],
) -> tuple[int, int]:
    """Add the batch's new addresses and update (or leave) its existing ones; how many were
    added and updated, which `checkpoint(added, updated)` records in the same transaction. An
    address another import added since `existing` was read makes the insert fail on the unique
    constraint: the batch is read again and retried, and that address counts as existing."""
    rows = sorted(rows, key=lambda row: row.email)  # one lock order for concurrent writers
    fields = ["full_name", "comment"] if imp.mapping.get("comment") is not None else ["full_name"]
    for attempt in range(WRITE_RETRIES + 1):
        if attempt:
            existing = _existing(imp.owner, rows)
        new = [row for row in rows if row.email not in existing]
        updates = (
            [(existing[row.email][0], row) for row in rows if row.email in existing]
            if imp.update_existing
            else []
        )
        last = attempt == WRITE_RETRIES
        try:
            with transaction.atomic():
                written = _client_rows_write(
                    owner=imp.owner,
                    new=new,
                    updates=updates,
                    fields=fields,
                    ignore_conflicts=last,
                )
                if tag is not None:
                    Client.tags.through.objects.bulk_create(
                        [Client.tags.through(client_id=pk, tag_id=tag.pk) for pk in written],
                        ignore_conflicts=True,
                    )
                _tags_from_file(imp.owner, [*new, *(row for _pk, row in updates)])
                added = len(new) if not last else len(written) - len(updates)
                checkpoint(added, len(updates))
        except IntegrityError:
            continue
        return added, len(updates)
    raise AssertionError("unreachable: the last try ignores conflicts")


def _client_rows_write(
    *,
    owner: User,
    new: list[Row],
    updates: list[tuple[int, Row]],
    fields: list[str],
    ignore_conflicts: bool = False,
) -> list[int]:
    """The one place an import writes clients: insert `new`, and set `fields` (name, comment)
    of the clients `updates` names by id, nothing else of theirs; the ids written. With
    `ignore_conflicts` an address that exists already is left out (and out of the ids)."""
    now = timezone.now()
    created = Client.objects.bulk_create(
        [
            Client(
                owner=owner,
                email=row.email,
                full_name=row.full_name,
                comment=row.comment,
                search_text=client_search_text(row.email, row.full_name, row.comment),
            )
            for row in new
        ],
        ignore_conflicts=ignore_conflicts,
    )
    if ignore_conflicts:
        # No ids come back from an insert that may skip rows: read them.
        emails = [row.email for row in new]
        updated_ids = {pk for pk, _row in updates}
        ids = [
            pk
            for pk in Client.objects.filter(owner=owner, email__in=emails, created_at__gte=now)
            .exclude(pk__in=updated_ids)
            .values_list("pk", flat=True)
        ]
    else:
        ids = [client.pk for client in created]
    if updates:
        clients = [
            Client(
                pk=pk,
                full_name=row.full_name,
                comment=row.comment,
                search_text=client_search_text(row.email, row.full_name, row.comment),
                updated_at=now,
            )
            for pk, row in updates
        ]
        Client.objects.bulk_update(
            clients, [*fields, "search_text", "updated_at"], batch_size=BATCH
        )
        ids += [pk for pk, _row in updates]
    return ids
