"""Claiming runs: opening a due mailing's run with its ledger, and taking over runs whose
sender vanished or that wait to be resumed, under a lease only one sender holds."""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing, Periodicity
from core.outcomes import said
from core.services import slots
from core.services.sending.batches import batches_cut
from core.services.sending.controls import (
    HELD_BACK,
    MAILING_HELD_BACK,
    attempt_close_stopped,
    next_slot_reason,
)


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
        # Never a run asked to stop, of a paused or disabled mailing, or of a blocked owner:
        # `attempts_close_held_back` closes those.
        candidates = (
            Attempt.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                Q(lease_expires_at__lte=now) | Q(resume_at__lte=now), status=Attempt.Status.RUNNING
            )
            .exclude(HELD_BACK)
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
    """Make this sender the run's only holder, until it stops renewing the lease; a turn that
    starts (the run opens or resumes) has its ledger cut into batches for any sender."""
    attempt.lease_token = secrets.token_hex(16)
    attempt.lease_expires_at = lease_end(timezone.now())
    attempt.resume_at = None
    # `quota_reserved` stays: an earlier holder that is not dead after all may still send
    # what it reserved. It is cleared when the run ends its turn.
    attempt.save(update_fields=["lease_token", "lease_expires_at", "resume_at"])
    batches_cut(attempt=attempt)


# How late the last slot (at or before the end, which is inclusive) may still go out: a cron
# tick or two, a restart. A slot found later than this after the end was missed while nothing
# ran, and the mailing is over: it is dropped, never sent.
LATE_AFTER_END = timedelta(minutes=10)


def attempt_claim_due(*, now: datetime, mailing_id: int | None = None) -> Attempt | None:
    """Open and claim the run of the next due mailing, and move its schedule on.

    A paused or disabled mailing, or one of a blocked owner, is not due: its schedule waits
    (resuming moves it past the slots it missed). One with a run still open waits for it to
    end: a mailing has at most one open run.
    """
    while True:
        with transaction.atomic():
            due = (
                Mailing.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_run_at__lte=now)
                .exclude(MAILING_HELD_BACK)
                .exclude(attempts__status=Attempt.Status.RUNNING)
            )
            if mailing_id is not None:
                due = due.filter(pk=mailing_id)
            mailing = due.order_by("next_run_at").first()
            if mailing is None:
                return None
            slot, mailing.next_run_at = slots.slot_and_next(
                schedule=mailing, moment=now, tz=mailing.zone
            )
            if slot is not None and now > mailing.end_at + LATE_AFTER_END:
                slot = None  # missed while no sender ran, and the mailing is long over: dropped
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


def attempts_close_superseded(*, now: datetime, mailing_id: int | None = None) -> int:
    """Close the open runs without a live sender that their mailing has overtaken; how many.

    That is a run opened before its mailing's next slot came (that slot's run sends to every
    recipient: resuming the old one too would send them two letters seconds apart), and a
    scheduled run of a mailing whose end has passed (nothing is sent after it). Their
    pending recipients stay pending, counted as not sent for that slot, with the reason.
    """
    closed = 0
    with transaction.atomic():
        candidates = (
            Attempt.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("mailing")
            .filter(status=Attempt.Status.RUNNING)
            .filter(
                Q(resume_at__isnull=False)
                | Q(lease_expires_at__isnull=True)
                | Q(lease_expires_at__lte=now)
            )
            .filter(
                Q(mailing__next_run_at__lte=now, attempted_at__lt=F("mailing__next_run_at"))
                | (
                    Q(slot_at__isnull=False, mailing__end_at__lt=now - LATE_AFTER_END)
                    # A one-off mailing ends where it starts: its run resumes as any other.
                    & ~Q(mailing__periodicity=Periodicity.ONCE)
                )
            )
        )
        if mailing_id is not None:
            candidates = candidates.filter(mailing_id=mailing_id)
        for attempt in candidates:
            mailing = attempt.mailing
            if mailing.end_at < now - LATE_AFTER_END and attempt.slot_at is not None:
                reason = said("stop.mailing_ended", time=mailing.end_at)
            else:
                reason = next_slot_reason(mailing.next_run_at)
            if attempt_close_stopped(
                attempt=attempt, reason=reason, now=now, status=Attempt.Status.FAILURE
            ):
                attempt_recount(attempt)
                closed += 1
    return closed


def attempt_open(*, mailing: Mailing, now: datetime, slot_at: datetime | None) -> Attempt:
    """Create a run and its ledger: one line per recipient, pending, or skipped with the reason
    when the client unsubscribed or bounced.

    The recipients are the mailing's chosen clients and every client of its owner carrying one
    of its tags now (a client tagged after the mailing was saved included), each once.
    """
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=now, slot_at=slot_at, status=Attempt.Status.RUNNING
    )
    # One INSERT ... SELECT: no recipient passes through Python, whatever their number.
    delivery, client = Delivery._meta, Client._meta
    chosen, targeted = Mailing.clients.through._meta, Mailing.tags.through._meta
    tagged = Client.tags.through._meta
    reason, reason_params = _skip_reason_sql("c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {delivery.db_table}
                (attempt_id, mailing_id, owner_id, client_id, email, status, reply, tries)
            SELECT %s, %s, %s, c.id, c.email,
                CASE WHEN {_SUPPRESSED.format(alias="c")} THEN %s ELSE %s END,
                CASE WHEN {_SUPPRESSED.format(alias="c")} THEN {reason} ELSE '' END,
                0
            FROM {client.db_table} c
            WHERE c.owner_id = %s AND (
                c.id IN (SELECT client_id FROM {chosen.db_table} WHERE mailing_id = %s)
                OR c.id IN (
                    SELECT ct.client_id FROM {tagged.db_table} ct
                    JOIN {targeted.db_table} mt ON mt.tag_id = ct.tag_id
                    WHERE mt.mailing_id = %s
                )
            )
            """,  # noqa: S608 - table names come from the models, values are parameters
            [
                attempt.pk,
                mailing.pk,
                mailing.owner_id,
                Delivery.Status.SKIPPED,
                Delivery.Status.PENDING,
                *reason_params,
                mailing.owner_id,
                mailing.pk,
                mailing.pk,
            ],
        )
        total = cursor.rowcount
    # A range of the (attempt, status) index; usually empty.
    attempt.skipped_count = Delivery.objects.filter(
        attempt=attempt, status=Delivery.Status.SKIPPED
    ).count()
    attempt.pending_count = total - attempt.skipped_count
    attempt.save(update_fields=["pending_count", "skipped_count"])
    return attempt


def deliveries_skip(*, ids: list[int]) -> None:
    """Turn these pending ledger lines, of clients who unsubscribed or bounced since the run
    opened, into skipped ones with the reason; one UPDATE."""
    table, client_table = Delivery._meta.db_table, Client._meta.db_table
    reason, reason_params = _skip_reason_sql("c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET status = %s, reply = (
                SELECT {reason} FROM {client_table} c WHERE c.id = {table}.client_id
            )
            WHERE status = %s AND id IN ({", ".join(["%s"] * len(ids))})
            """,  # noqa: S608 - table names come from the models, values are parameters
            [Delivery.Status.SKIPPED, *reason_params, Delivery.Status.PENDING, *ids],
        )


# Whether the client of alias `{alias}` is left out of runs (see Client.is_suppressed).
_SUPPRESSED = "({alias}.unsubscribed_at IS NOT NULL OR {alias}.bounced_at IS NOT NULL)"


def _skip_reason_sql(alias: str) -> tuple[str, list[str]]:
    """SQL for the ledger's reply of a skipped client, as an outcome (core.outcomes), and its
    parameters: how they unsubscribed, or what the server said when the address bounced."""
    # The outcome's JSON around the bounce reply, which the database quotes as a JSON string.
    before, _placeholder, after = said("skip.bounced", reply="\0").partition('"\\u0000"')
    quoted = "to_json({}::text)::text" if connection.vendor == "postgresql" else "json_quote({})"
    return (
        f"CASE WHEN {alias}.unsubscribed_at IS NULL THEN %s || "
        f"{quoted.format(f'{alias}.bounce_reply')} || %s "
        f"WHEN {alias}.unsubscribe_source = %s THEN %s ELSE %s END",
        [
            before,
            after,
            Client.UnsubscribeSource.ONE_CLICK,
            said("skip.unsubscribed_one_click"),
            said("skip.unsubscribed_link"),
        ],
    )


def attempt_recount(attempt: Attempt) -> None:
    """Write the run's counts from its ledger (after it ended between progress writes)."""
    counts = dict(
        Delivery.objects.filter(attempt=attempt)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    Attempt.objects.filter(pk=attempt.pk).update(
        accepted_count=counts.get(Delivery.Status.ACCEPTED, 0),
        failed_count=counts.get(Delivery.Status.FAILED, 0),
        pending_count=counts.get(Delivery.Status.PENDING, 0),
        skipped_count=counts.get(Delivery.Status.SKIPPED, 0),
    )
