"""The letters accepted and failed per owner and UTC quarter-hour (`DeliveryTally`), kept with
the ledger so the dashboard sums a few rows per day instead of counting the ledger.

Two writers keep the tally equal to the ledger's own counts, each in the transaction that
changes the ledger:

* the sending engine adds the outcomes it writes (`tally_add`): a ledger line turns from
  pending to accepted or failed only there, once (the update is conditional on `pending`, and
  only the rows it changed are added), and an outcome is never changed afterwards;
* deleting ledger lines (a mailing, a run, lines in the admin) goes through `ledger_delete`
  (`mailings_delete`, `attempts_delete`, `deliveries_delete`), which takes them out of their
  buckets. A user deleted takes their tally with them (Django's
  cascade); a client deleted keeps its ledger lines (their client is set to NULL) and so the
  counts.

Concurrent senders of one owner add to the same bucket with one atomic upsert (INSERT ... ON
CONFLICT DO UPDATE, SQLite 3.24+ and PostgreSQL), never read-then-write.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from core.models import Attempt, Delivery, DeliveryTally, Mailing

# The columns a ledger deletion may be keyed by.
_KEYS = {"mailing_id", "attempt_id", "id"}


def _quarter_sql(column: str, vendor: str) -> str:
    """SQL for the tally bucket of the datetime `column` (DeliveryTally.quarter_of's)."""
    if vendor == "postgresql":
        # Whole seconds first: the epoch of a fractional time may be a float, rounded up.
        return f"FLOOR(EXTRACT(EPOCH FROM date_trunc('second', {column})) / 900)::bigint"
    # SQLite stores UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), cut here to the whole second:
    # strftime() would round its fraction to the millisecond, and 23:59:59.9999 to the next
    # day. The statements here always pass parameters, so the '%' is doubled for Django.
    return f"(CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER) / 900)"


def _upsert(select: str) -> str:
    """INSERT the (owner_id, quarter, accepted, failed) rows of `select`, added to any bucket
    already there."""
    table = DeliveryTally._meta.db_table
    return (
        f"INSERT INTO {table} (owner_id, quarter, accepted, failed) {select} "
        "ON CONFLICT (owner_id, quarter) DO UPDATE SET "
        f"accepted = {table}.accepted + excluded.accepted, "
        f"failed = {table}.failed + excluded.failed"
    )


def tally_add(cursor, *, owner_id: int, moment: datetime, accepted: int, failed: int) -> None:
    """Add letters accepted and failed at `moment` to their owner's bucket; one statement, in
    the caller's transaction (the one that wrote the outcomes)."""
    if accepted or failed:
        cursor.execute(
            _upsert("VALUES (%s, %s, %s, %s)"),
            [owner_id, DeliveryTally.quarter_of(moment), accepted, failed],
        )


def _counted_select(source: str, where: str, sign: str = "") -> str:
    """The buckets of the accepted and failed lines of `source` matching `where`."""
    quarter = _quarter_sql("sent_at", connection.vendor)
    accepted, failed = Delivery.Status.ACCEPTED.value, Delivery.Status.FAILED.value
    return (
        f"SELECT owner_id, {quarter}, "  # noqa: S608 - names from the models, values constant
        f"{sign}SUM(CASE WHEN status = '{accepted}' THEN 1 ELSE 0 END), "
        f"{sign}SUM(CASE WHEN status = '{failed}' THEN 1 ELSE 0 END) "
        f"FROM {source} WHERE {where} AND status IN ('{accepted}', '{failed}') "
        f"AND sent_at IS NOT NULL GROUP BY owner_id, {quarter}"
    )


def ledger_delete(*, key: str, ids: Sequence[int]) -> None:
    """Delete the ledger lines whose `key` ("mailing_id", "attempt_id" or "id") is in `ids`,
    taking their outcomes out of the tally. Call it inside a transaction.

    PostgreSQL: one statement, the DELETE's own RETURNING feeding the upsert, so a line a
    sender marks while it runs is counted exactly as it is deleted (the DELETE waits for the
    sender's transaction and then sees its outcome; a sender coming after finds no line and
    adds nothing). SQLite: a count then the DELETE, in a write transaction that no sender can
    interleave (BEGIN IMMEDIATE).
    """
    if key not in _KEYS:
        raise ValueError(key)
    ids = list(ids)
    if not ids:
        return
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE {key} = ANY(%s) "  # noqa: S608
                "RETURNING owner_id, status, sent_at) "
                + _upsert(_counted_select("gone", "TRUE", sign="-")),
                [ids],
            )
            return
        # SQLite's limit of bound parameters (32,766) is far above any caller's list.
        marks = ", ".join(["%s"] * len(ids))
        where = f"{key} IN ({marks})"
        cursor.execute(_upsert(_counted_select(table, where, sign="-")), ids)
        cursor.execute(f"DELETE FROM {table} WHERE {where}", ids)  # noqa: S608


def tally_rebuild() -> None:
    """Count the whole tally again from the ledger (the data migration does the same; the
    benchmark, which writes its ledger in bulk, calls it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DeliveryTally._meta.db_table}")  # noqa: S608
        cursor.execute(_upsert(_counted_select(Delivery._meta.db_table, "1 = 1")), [])


def mailings_delete(*, ids: Sequence[int]) -> None:
    """Delete these mailings with their runs and ledger, their letters taken out of the tally.

    The mailings' rows are locked first, so no run of them opens meanwhile (opening one locks
    its mailing): every ledger line they will ever have is there to be counted out.
    """
    with transaction.atomic():
        locked = list(
            Mailing.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
        )
        ledger_delete(key="mailing_id", ids=locked)
        Mailing.objects.filter(pk__in=locked).delete()


def attempts_delete(*, ids: Sequence[int]) -> None:
    """Delete these runs with their ledger (the admin's), their letters taken out of the tally."""
    with transaction.atomic():
        ledger_delete(key="attempt_id", ids=ids)
        Attempt.objects.filter(pk__in=ids).delete()


def deliveries_delete(*, ids: Sequence[int]) -> None:
    """Delete these ledger lines (the admin's), their letters taken out of the tally."""
    with transaction.atomic():
        ledger_delete(key="id", ids=ids)
