"""When mailings run: the schedule of a mailing after it is created or edited, paused or
resumed."""

from datetime import datetime

from django.db import transaction

from core.models import Attempt, Mailing
from core.services import slots
from core.services.sending import background
from core.services.sending.controls import attempts_request_stop


def mailing_next_run(*, mailing: Mailing, now: datetime) -> datetime | None:
    """When `mailing` should run next as of `now`; None when no slot is left before its end.

    The slot `now` falls in counts while no run served it yet, so a mailing whose window
    contains `now` runs at once; a slot already served is never run twice.
    """
    if mailing.end_at < now:
        return None
    current, upcoming = slots.slot_and_next(schedule=mailing, moment=now, tz=mailing.zone)
    if current is not None and not (
        mailing.pk and Attempt.objects.filter(mailing=mailing, slot_at=current).exists()
    ):
        return current
    return upcoming


def mailing_schedule(*, mailing: Mailing, now: datetime) -> None:
    """Set when a new or edited mailing runs next; a window that contains `now` runs at once.

    Every view that creates or edits a mailing calls this after saving it. A mailing due now
    goes out from a task for the workers, written in the caller's transaction, so the request
    never waits on the mail server.
    """
    mailing.next_run_at = mailing_next_run(mailing=mailing, now=now)
    if mailing.next_run_at is None:
        mailing.status = Mailing.Status.FINISHED
    elif mailing.status == Mailing.Status.FINISHED:
        # An edit that moved the end later brings a finished mailing back.
        has_run = mailing.attempts.exists()
        mailing.status = Mailing.Status.RUNNING if has_run else Mailing.Status.CREATED
    mailing.save(update_fields=["next_run_at", "status", "updated_at"])
    held_back = mailing.paused_at is not None or mailing.disabled_at is not None
    if mailing.next_run_at is not None and mailing.next_run_at <= now and not held_back:
        background.mailing_send_enqueue(mailing_id=mailing.pk)


def mailing_pause(*, mailing: Mailing, now: datetime) -> bool:
    """Pause `mailing`: no new run until it is resumed, and its open run is asked to stop
    (one waiting to resume ends at once). False if it was paused already."""
    with transaction.atomic():
        paused = Mailing.objects.filter(pk=mailing.pk, paused_at__isnull=True).update(
            paused_at=now, updated_at=now
        )
        attempts_request_stop(attempts=Attempt.objects.filter(mailing_id=mailing.pk), now=now)
    mailing.refresh_from_db()
    return bool(paused)


def mailing_resume(*, mailing: Mailing, now: datetime) -> bool:
    """Resume a paused `mailing`: its schedule goes on from the first slot after `now`, the
    slots it missed while paused are not sent (no backlog). False if it was not paused."""
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().filter(pk=mailing.pk).first()
        if locked is None or locked.paused_at is None:
            return False
        locked.paused_at = None
        locked.next_run_at = None
        if locked.end_at >= now:
            _current, locked.next_run_at = slots.slot_and_next(
                schedule=locked, moment=now, tz=locked.zone
            )
        if (
            locked.next_run_at is None
            and not locked.attempts.filter(status=Attempt.Status.RUNNING).exists()
        ):
            locked.status = Mailing.Status.FINISHED
        locked.save(update_fields=["paused_at", "next_run_at", "status", "updated_at"])
    mailing.refresh_from_db()
    return True
