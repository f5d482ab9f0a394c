"""The dashboard's tally (`SendingTally`): per owner and UTC quarter-hour, the letters accepted
and failed (by `sent_at`) and the runs that ended in success or failure (by `attempted_at`),
kept with the ledger and the runs so the dashboard sums a few rows per day instead of counting.

Each writer changes the tally in the transaction that changes what it counts:

* the sending engine adds the outcomes it writes (`letters_tally_add`): a ledger line turns
  from pending to accepted or failed only there, once (the update is conditional on
  `pending`, and only the rows it changed are added), and is never changed afterwards;
* a run that ends in success or failure is added (`run_ended_tally_add`) by the update that
  ends it, which is conditional on the run still running: a run ends once;
* deleting ledger lines or runs (a mailing, a run, lines in the admin) goes through
  `mailings_delete`, `attempts_delete` or `deliveries_delete`, which take them out. A user
  deleted takes their tally with them (Django's cascade); a client deleted keeps its ledger
  lines (their client is set to NULL) and so the counts.

Concurrent senders of one owner add to the same bucket with one atomic upsert (INSERT ... ON
CONFLICT DO UPDATE, SQLite 3.24+ and PostgreSQL), never read-then-write.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from core.models import Attempt, Delivery, Mailing, SendingTally

_COLUMNS = ("accepted", "failed", "runs_succeeded", "runs_failed")
_ENDED = (Attempt.Status.SUCCESS, Attempt.Status.FAILURE)


def _quarter_sql(column: str, vendor: str) -> str:
    """SQL for the tally bucket of the datetime `column` (SendingTally.quarter_of's)."""
    if vendor == "postgresql":
        # Whole seconds first: the epoch of a fractional time may be a float, rounded up.
        return f"FLOOR(EXTRACT(EPOCH FROM date_trunc('second', {column})) / 900)::bigint"
    # SQLite stores UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), cut here to the whole second:
    # strftime() would round its fraction to the millisecond, and 23:59:59.9999 to the next
    # day. The statements here always pass parameters, so the '%' is doubled for Django.
    return f"(CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER) / 900)"


def _upsert(select: str) -> str:
    """INSERT the (owner_id, quarter, accepted, failed, runs_succeeded, runs_failed) rows of
    `select`, each added to its bucket if there is one already."""
    table = SendingTally._meta.db_table
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _COLUMNS)
    return (
        f"INSERT INTO {table} (owner_id, quarter, {', '.join(_COLUMNS)}) {select} "
        f"ON CONFLICT (owner_id, quarter) DO UPDATE SET {added}"
    )


def _add(cursor, rows: list[tuple[int, int, int, int, int, int]]) -> None:
    """Add (owner_id, quarter, accepted, failed, runs_succeeded, runs_failed) to the tally."""
    rows = [row for row in rows if any(row[2:])]
    if rows:
        cursor.executemany(_upsert("VALUES (%s, %s, %s, %s, %s, %s)"), rows)


def letters_tally_add(
    cursor, *, owner_id: int, moment: datetime, accepted: int, failed: int
) -> None:
    """Add letters accepted and failed at `moment` to their owner's bucket; one statement, in
    the caller's transaction (the one that wrote the outcomes)."""
    _add(cursor, [(owner_id, SendingTally.quarter_of(moment), accepted, failed, 0, 0)])


def run_ended_tally_add(*, attempt: Attempt, status: str) -> None:
    """Count `attempt`, which the caller's transaction has just ended as `status`."""
    if status in _ENDED:
        succeeded = int(status == Attempt.Status.SUCCESS)
        owner_id = Mailing.objects.values_list("owner_id", flat=True).get(pk=attempt.mailing_id)
        quarter = SendingTally.quarter_of(attempt.attempted_at)
        with connection.cursor() as cursor:
            _add(cursor, [(owner_id, quarter, 0, 0, succeeded, 1 - succeeded)])


def _counted_select(source: str, where: str, sign: str = "-") -> str:
    """The buckets of the accepted and failed lines of `source` matching `where`, negated
    (what a deletion takes out) unless `sign` is ""."""
    quarter = _quarter_sql("sent_at", connection.vendor)
    accepted, failed = Delivery.Status.ACCEPTED.value, Delivery.Status.FAILED.value
    return (
        f"SELECT owner_id, {quarter}, "  # noqa: S608 - names from the models, values constant
        f"{sign}SUM(CASE WHEN status = '{accepted}' THEN 1 ELSE 0 END), "
        f"{sign}SUM(CASE WHEN status = '{failed}' THEN 1 ELSE 0 END), 0, 0 "
        f"FROM {source} WHERE {where} AND status IN ('{accepted}', '{failed}') "
        f"AND sent_at IS NOT NULL GROUP BY owner_id, {quarter}"
    )


def _ledger_delete(*, key: str, ids: Sequence[int]) -> None:
    """Delete the ledger lines whose `key` ("mailing_id", "attempt_id" or "id") is in `ids`,
    taking their outcomes out of the tally. Inside a transaction.

    PostgreSQL: one statement, the DELETE's own RETURNING feeding the upsert, so a line a
    sender marks while it runs is counted exactly as it is deleted (the DELETE waits for the
    sender's transaction and then sees its outcome; a sender coming after finds no line and
    adds nothing). SQLite: a count then the DELETE, in a write transaction that no sender can
    interleave (BEGIN IMMEDIATE).
    """
    ids = list(ids)
    if not ids:
        return
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE {key} = ANY(%s) "  # noqa: S608
                "RETURNING owner_id, status, sent_at) " + _upsert(_counted_select("gone", "TRUE")),
                [ids],
            )
            return
        # SQLite's limit of bound parameters (32,766) is far above any caller's list.
        where = f"{key} IN ({', '.join(['%s'] * len(ids))})"
        cursor.execute(_upsert(_counted_select(table, where)), ids)
        cursor.execute(f"DELETE FROM {table} WHERE {where}", ids)  # noqa: S608


def _runs_untally(runs) -> None:
    """Take the ended runs of the queryset `runs` out of the tally, their rows locked first: a
    run ending meanwhile waits for the caller's transaction, then finds no run to end."""
    locked = runs.select_for_update().values_list("mailing_id", "attempted_at", "status")
    ended = Counter(
        (mailing_id, SendingTally.quarter_of(attempted_at), status)
        for mailing_id, attempted_at, status in locked
        if status in _ENDED
    )
    owners = dict(
        Mailing.objects.filter(pk__in={key[0] for key in ended}).values_list("pk", "owner_id")
    )
    rows = [
        (owners[mailing_id], quarter, 0, 0)
        + ((-count, 0) if status == Attempt.Status.SUCCESS else (0, -count))
        for (mailing_id, quarter, status), count in ended.items()
    ]
    with connection.cursor() as cursor:
        _add(cursor, rows)


def mailings_delete(*, ids: Sequence[int]) -> None:
    """Delete these mailings with their runs and ledger, taken out of the tally.

    The mailings' rows are locked first, so no run of them opens meanwhile (opening one locks
    its mailing): every run and ledger line they will ever have is there to be counted out.
    """
    with transaction.atomic():
        locked = list(
            Mailing.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
        )
        _runs_untally(Attempt.objects.filter(mailing_id__in=locked))
        _ledger_delete(key="mailing_id", ids=locked)
        Mailing.objects.filter(pk__in=locked).delete()


def attempts_delete(*, ids: Sequence[int]) -> None:
    """Delete these runs with their ledger (the admin's), taken out of the tally."""
    with transaction.atomic():
        _runs_untally(Attempt.objects.filter(pk__in=ids))
        _ledger_delete(key="attempt_id", ids=ids)
        Attempt.objects.filter(pk__in=ids).delete()


def deliveries_delete(*, ids: Sequence[int]) -> None:
    """Delete these ledger lines (the admin's), taken out of the tally."""
    with transaction.atomic():
        _ledger_delete(key="id", ids=ids)


def tally_rebuild() -> None:
    """Count the whole tally again from the ledger and the runs (as the data migration does;
    the benchmark, which writes its history in bulk, calls it)."""
    quarter = _quarter_sql("a.attempted_at", connection.vendor)
    success, failure = Attempt.Status.SUCCESS.value, Attempt.Status.FAILURE.value
    runs = (
        f"SELECT m.owner_id, {quarter}, 0, 0, "  # noqa: S608 - names from the models
        f"SUM(CASE WHEN a.status = '{success}' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN a.status = '{failure}' THEN 1 ELSE 0 END) "
        f"FROM {Attempt._meta.db_table} a JOIN {Mailing._meta.db_table} m "
        f"ON m.id = a.mailing_id WHERE a.status IN ('{success}', '{failure}') "
        f"GROUP BY m.owner_id, {quarter}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SendingTally._meta.db_table}")  # noqa: S608
        cursor.execute(_upsert(_counted_select(Delivery._meta.db_table, "1 = 1", sign="")), [])
        cursor.execute(_upsert(runs), [])
