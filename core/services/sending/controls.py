"""What holds sending back: a stop asked of an open run, a paused or disabled mailing, a
blocked owner; and the one open run a mailing may have.

THE CONTRACT with whoever wants an open run to stop (the owner's stop or pause, a manager's
block or disable): set `Attempt.stop_requested_at` (`attempts_request_stop` does, and closes
at once the runs that have no sender). A run with a sender sees it, or the paused, disabled
or blocked state itself, at its next progress write (`RunSender`), and ends as stopped; the
claims never open or take up a run that is held back.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from core.models import Attempt, Delivery, Mailing, RunBatch
from core.outcomes import said, said_together
from core.services.sending.tally import run_ended_tally_add

# A run that must not go on, whoever asked.
HELD_BACK = (
    Q(stop_requested_at__isnull=False)
    | Q(mailing__paused_at__isnull=False)
    | Q(mailing__disabled_at__isnull=False)
    | Q(mailing__owner__blocked_at__isnull=False)
)
# A mailing that no run may be opened for or taken up.
MAILING_HELD_BACK = (
    Q(paused_at__isnull=False) | Q(disabled_at__isnull=False) | Q(owner__blocked_at__isnull=False)
)
# Its fields, read by the sender between batches (one query with two joins).
HOLD_FIELDS = (
    "stop_requested_at",
    "mailing__paused_at",
    "mailing__disabled_at",
    "mailing__disabled_reason",
    "mailing__owner__blocked_at",
)


class SendRefused(Exception):
    """A run of the mailing cannot be opened now; the message says why, to its owner."""


def stop_reason(
    *,
    stop_requested_at: datetime | None,
    paused_at: datetime | None,
    disabled_at: datetime | None,
    disabled_reason: str,
    blocked_at: datetime | None,
) -> str:
    """Why a run ends early (its summary, its pending ledger lines); "" if it may go on."""
    if disabled_at is not None:
        return said("stop.disabled", reason=disabled_reason)
    if blocked_at is not None:
        return said("stop.blocked")
    if paused_at is not None:
        return said("stop.paused")
    if stop_requested_at is not None:
        return said("stop.requested")
    return ""


def attempt_stop_reason(*, attempt_id: int, now: datetime) -> str:
    """Whether the run must stop now, and why ("" if not); one query.

    A run still going when its mailing's next slot comes stops too: that slot's run sends to
    every recipient, so going on would send them two letters minutes apart.
    """
    row = (
        Attempt.objects.filter(pk=attempt_id)
        .values_list(*HOLD_FIELDS, "attempted_at", "mailing__next_run_at")
        .first()
    )
    if row is None:
        return said("stop.deleted")
    *hold, attempted_at, next_run_at = row
    reason = stop_reason(**dict(zip(_HOLD_ARGUMENTS, hold, strict=True)))
    if not reason and next_run_at is not None and attempted_at < next_run_at <= now:
        reason = next_slot_reason(next_run_at)
    return reason


def next_slot_reason(next_run_at: datetime) -> str:
    """Why a run's pending recipients are not sent for its slot: the next slot came."""
    return said("stop.next_run", time=next_run_at)


_HOLD_ARGUMENTS = ("stop_requested_at", "paused_at", "disabled_at", "disabled_reason", "blocked_at")


def stopped_summary(*, reason: str, pending: int) -> str:
    """The server response of a stopped run: why, and how many recipients it left pending."""
    if not pending:
        return reason
    return said_together(" ", reason, said("stop.left_pending", count=pending))


def attempts_request_stop(*, attempts: QuerySet[Attempt], now: datetime) -> int:
    """Ask the open runs among `attempts` to stop; close those with no sender at once.

    A run with a sender ends as stopped at its next progress write (within about a second);
    a run waiting to resume, or opened and not yet taken, has nobody to see it, so it is
    closed here. Returns how many runs were asked.
    """
    asked = attempts.filter(status=Attempt.Status.RUNNING, stop_requested_at__isnull=True).update(
        stop_requested_at=now
    )
    attempts_close_held_back(now=now)
    return asked


def attempts_close_held_back(*, now: datetime, mailing_id: int | None = None) -> int:
    """Close as stopped every open run that is held back and has no live sender; how many.

    Its letters stay pending, with the reason, and it is never resumed.
    """
    closed = 0
    with transaction.atomic():
        candidates = (
            Attempt.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("mailing__owner")
            .filter(HELD_BACK, status=Attempt.Status.RUNNING)
            .filter(
                Q(resume_at__isnull=False)
                | Q(lease_expires_at__isnull=True)
                | Q(lease_expires_at__lte=now)
            )
        )
        if mailing_id is not None:
            candidates = candidates.filter(mailing_id=mailing_id)
        for attempt in candidates:
            mailing = attempt.mailing
            reason = stop_reason(
                stop_requested_at=attempt.stop_requested_at,
                paused_at=mailing.paused_at,
                disabled_at=mailing.disabled_at,
                disabled_reason=mailing.disabled_reason,
                blocked_at=mailing.owner.blocked_at,
            )
            attempt_close_stopped(attempt=attempt, reason=reason, now=now)
            closed += 1
    return closed


def attempt_close_stopped(
    *,
    attempt: Attempt,
    reason: str,
    now: datetime,
    lease_token: str | None = None,
    status: str = Attempt.Status.STOPPED,
) -> bool:
    """End an open run as stopped (or `status`): the pending ledger lines keep the reason, the
    run its counts.

    With `lease_token`, only while that sender still holds the run. Call it inside a
    transaction.
    """
    lines = Delivery.objects.filter(attempt=attempt, status=Delivery.Status.PENDING)
    pending = lines.count()
    held = Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.RUNNING)
    if lease_token is not None:
        held = held.filter(lease_token=lease_token)
    updated = held.update(
        status=status,
        server_response=stopped_summary(reason=reason, pending=pending),
        finished_at=now,
        lease_token="",
        lease_expires_at=None,
        resume_at=None,
        quota_reserved=0,
    )
    if updated:
        run_ended_tally_add(attempt=attempt, status=status)
        lines.update(reply=reason)
        # Its batches go with it: a sender still working one stops at its next write.
        RunBatch.objects.filter(attempt=attempt).delete()
        mailing_finish_if_done(mailing_id=attempt.mailing_id)
    return bool(updated)


def mailing_finish_if_done(*, mailing_id: int) -> None:
    """The last run of a mailing without slots left finishes it."""
    Mailing.objects.filter(
        pk=mailing_id, next_run_at__isnull=True, status=Mailing.Status.RUNNING
    ).exclude(attempts__status=Attempt.Status.RUNNING).update(status=Mailing.Status.FINISHED)


def mailing_send_refusal(*, mailing: Mailing) -> str:
    """Why no run of `mailing` may be opened now ("" if one may): it is disabled, its owner
    blocked, it is paused, or a run of it is still open (running, or waiting to resume).

    Read it inside the transaction that opens the run, with the mailing's row locked.
    """
    if mailing.disabled_at is not None:
        return _("A manager disabled this mailing: %(reason)s") % {
            "reason": mailing.disabled_reason
        }
    if mailing.owner.blocked_at is not None:
        return _("The owner's account is blocked: nothing of theirs is sent.")
    if mailing.paused_at is not None:
        return _("This mailing is paused: resume it to send it.")
    if mailing.attempts.filter(status=Attempt.Status.RUNNING).exists():
        return _("A run of this mailing is still open: nothing new was started.")
    return ""
