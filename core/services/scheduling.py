"""When mailings run: the schedule of a mailing after it is created or edited."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from core.models import Attempt, Mailing
from core.services import slots
from core.services.sending import processes


def mailing_next_run(*, mailing: Mailing, now: datetime) -> datetime | None:
    """When `mailing` should run next as of `now`; None when no slot is left before its end.

    The slot `now` falls in counts while no run served it yet, so a mailing whose window
    contains `now` runs at once; a slot already served is never run twice.
    """
    tz = ZoneInfo(settings.TIME_ZONE)
    if mailing.end_at <= now:
        return None
    current, upcoming = slots.slot_and_next(schedule=mailing, moment=now, tz=tz)
    if current is not None and not (
        mailing.pk and Attempt.objects.filter(mailing=mailing, slot_at=current).exists()
    ):
        return current
    return upcoming


def mailing_schedule(*, mailing: Mailing, now: datetime) -> None:
    """Set when a new or edited mailing runs next; a window that contains `now` runs at once.

    Every view that creates or edits a mailing calls this after saving it. A mailing due now
    goes out from a detached sender started once the transaction commits, so the request
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
    if mailing.next_run_at is not None and mailing.next_run_at <= now:
        mailing_id = mailing.pk
        transaction.on_commit(lambda: processes.mailing_start_detached(mailing_id=mailing_id))
