"""Claiming runs: opening a due mailing's run with its ledger, and taking over runs whose
sender vanished or that wait to be resumed, under a lease only one sender holds."""

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing
from core.services import slots


def lease_end(now: datetime) -> datetime:
    """When a lease taken or renewed at `now` runs out."""
    return now + timedelta(seconds=settings.SENDING_LEASE_SECONDS)


def attempt_claim_open(
    *,
    now: datetime,
    mailing_id: int | None = None,
    attempt_id: int | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> Attempt | None:
    """Take a run that is open but has no live sender; None if there is none.

    That is a run opened by "send now" and never taken, one whose sender vanished (its lease
    expired) and one waiting to resume whose time has come.
    """
    with transaction.atomic():
        candidates = Attempt.objects.select_for_update(skip_locked=True).filter(
            Q(lease_expires_at__lte=now) | Q(resume_at__lte=now), status=Attempt.Status.RUNNING
        )
        if mailing_id is not None:
            candidates = candidates.filter(mailing_id=mailing_id)
        if attempt_id is not None:
            candidates = candidates.filter(pk=attempt_id)
        attempt = (
            candidates.exclude(pk__in=exclude)
            .order_by(Coalesce("lease_expires_at", "resume_at"))
            .first()
        )
        if attempt is None:
            return None
        _lease_take(attempt)
    return attempt


def _lease_take(attempt: Attempt) -> None:
    """Make this sender the run's only holder, until it stops renewing the lease."""
    attempt.lease_token = secrets.token_hex(16)
    attempt.lease_expires_at = lease_end(timezone.now())
    attempt.resume_at = None
    attempt.save(update_fields=["lease_token", "lease_expires_at", "resume_at"])


def attempt_claim_due(*, now: datetime, mailing_id: int | None = None) -> Attempt | None:
    """Open and claim the run of the next due mailing, and move its schedule on."""
    tz = ZoneInfo(settings.TIME_ZONE)
    while True:
        with transaction.atomic():
            due = Mailing.objects.select_for_update(skip_locked=True).filter(next_run_at__lte=now)
            if mailing_id is not None:
                due = due.filter(pk=mailing_id)
            mailing = due.order_by("next_run_at").first()
            if mailing is None:
                return None
            slot = slots.slot_at_or_before(
                first=mailing.start_at,
                periodicity=mailing.periodicity,
                moment=now,
                end=mailing.end_at,
                tz=tz,
            )
            mailing.next_run_at = slots.next_slot_after(
                first=mailing.start_at,
                periodicity=mailing.periodicity,
                after=now,
                end=mailing.end_at,
                tz=tz,
            )
            attempt = None
            if (
                slot is not None
                and not Attempt.objects.filter(mailing=mailing, slot_at=slot).exists()
            ):
                attempt = attempt_open(mailing=mailing, now=now, slot_at=slot)
                _lease_take(attempt)
                mailing.status = Mailing.Status.RUNNING
            if mailing.next_run_at is None and attempt is None:
                mailing.status = Mailing.Status.FINISHED
            mailing.save(update_fields=["next_run_at", "status", "updated_at"])
        if attempt is not None:
            return attempt
        # Nothing to send for that one (window over, slot served): look at the next.


def attempt_open(*, mailing: Mailing, now: datetime, slot_at: datetime | None) -> Attempt:
    """Create a run and its ledger: one pending line per client of the mailing's owner."""
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=now, slot_at=slot_at, status=Attempt.Status.RUNNING
    )
    # One INSERT ... SELECT: no recipient passes through Python, whatever their number.
    delivery, client = Delivery._meta, Client._meta
    through = Mailing.clients.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {delivery.db_table}
                (attempt_id, mailing_id, owner_id, client_id, email, status, reply, tries)
            SELECT %s, %s, %s, c.id, c.email, %s, '', 0
            FROM {client.db_table} c
            JOIN {through.db_table} mc ON mc.client_id = c.id
            WHERE mc.mailing_id = %s AND c.owner_id = %s
            """,  # noqa: S608 - table names come from the models, values are parameters
            [
                attempt.pk,
                mailing.pk,
                mailing.owner_id,
                Delivery.Status.PENDING,
                mailing.pk,
                mailing.owner_id,
            ],
        )
        attempt.pending_count = cursor.rowcount
    attempt.save(update_fields=["pending_count"])
    return attempt
