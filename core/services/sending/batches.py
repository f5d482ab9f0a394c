"""A run's ledger in batches, so that several sender processes share one run.

When a turn of a run starts (it opens, or resumes), its pending ledger lines are cut into
batches of BATCH lines in id order (`RunBatch`), in one INSERT ... SELECT. Any sender claims a
free batch, or one whose lease ran out (its holder died), under a row lock
(`select_for_update(skip_locked=True)`; SQLite serialises write transactions instead), sends
to its pending lines and marks it done. Inside a batch everything is as in a run with one
sender: a connection sends its next letter only once its previous one is recorded, so a batch
whose holder dies costs at most one letter per connection sent twice.

The run's own lease stays with one sender, its holder: the one that opened or claimed it. Only
the holder ends the run, once no batch is free and no other sender holds one, so a run ends
exactly once. A sender that finds an open run with a live holder and free batches joins it
(`attempt_join`); a joiner that runs out of batches while the holder is gone (its lease ran
out) takes the run's lease and ends it.
"""

import secrets
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from core.models import Attempt, Delivery, RunBatch
from core.services.sending.controls import HELD_BACK

# Ledger lines per batch: large enough that claiming one (two short transactions) costs
# nothing next to sending it, small enough that N senders share a run of a few thousand.
BATCH = 500


def batches_cut(*, attempt: Attempt) -> int:
    """Cut the run's pending ledger lines into batches, unless it has some; how many it has.

    Called by the run's holder as a turn starts; no recipient passes through Python.
    """
    if RunBatch.objects.filter(attempt=attempt).exists():
        return RunBatch.objects.filter(attempt=attempt).count()
    batch, delivery = RunBatch._meta.db_table, Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {batch} (attempt_id, first_id, last_id, size, lease_token, done)
            SELECT %s, MIN(id), MAX(id), COUNT(*), '', %s FROM (
                SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS n
                FROM {delivery} WHERE attempt_id = %s AND status = %s
            ) numbered
            GROUP BY n
            """,  # noqa: S608 - table names come from the models, values are parameters
            [attempt.pk, False, BATCH, attempt.pk, Delivery.Status.PENDING],
        )
        return cursor.rowcount


def batches_forget(*, attempt_id: int) -> None:
    """Delete the run's batches: its turn is over. Every batch lease is taken back with them,
    so a sender still working one stops at its next progress write."""
    RunBatch.objects.filter(attempt_id=attempt_id).delete()


def _free(now: datetime) -> Q:
    """A batch nobody works: not done, with no holder or a holder whose lease ran out."""
    return Q(done=False) & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))


def batch_claim(*, attempt_id: int, now: datetime, lease_until: datetime) -> RunBatch | None:
    """Take the run's first free batch under a new lease; None when no batch is free."""
    with transaction.atomic():
        batch = (
            RunBatch.objects.select_for_update(skip_locked=True)
            .filter(_free(now), attempt_id=attempt_id)
            .order_by("id")
            .first()
        )
        if batch is None:
            return None
        batch.lease_token = secrets.token_hex(16)
        batch.lease_expires_at = lease_until
        batch.save(update_fields=["lease_token", "lease_expires_at"])
    return batch


def batches_held_by_others(*, attempt_id: int, now: datetime, own: RunBatch | None = None) -> int:
    """How many of the run's batches another sender is working now (a live lease)."""
    held = RunBatch.objects.filter(
        attempt_id=attempt_id, done=False, lease_expires_at__gt=now
    ).exclude(lease_token="")
    if own is not None:
        held = held.exclude(pk=own.pk)
    return held.count()


def batches_free(*, attempt_id: int, now: datetime) -> bool:
    """Whether the run has a batch nobody works."""
    return RunBatch.objects.filter(_free(now), attempt_id=attempt_id).exists()


def attempt_join(
    *,
    now: datetime,
    mailing_id: int | None = None,
    attempt_id: int | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> Attempt | None:
    """An open run that another sender holds and that has a free batch to help with; None if
    there is none. Nothing is locked here: the batches are claimed one by one by the sender."""
    runs = (
        Attempt.objects.select_related("mailing__message")
        .filter(status=Attempt.Status.RUNNING, resume_at__isnull=True, lease_expires_at__gt=now)
        .exclude(HELD_BACK)
        .filter(Exists(RunBatch.objects.filter(_free(now), attempt_id=OuterRef("pk"))))
        .exclude(pk__in=exclude)
    )
    if mailing_id is not None:
        runs = runs.filter(mailing_id=mailing_id)
    if attempt_id is not None:
        runs = runs.filter(pk=attempt_id)
    return runs.order_by("attempted_at").first()
