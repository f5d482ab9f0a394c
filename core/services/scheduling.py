"""When mailings run: the schedule of a mailing after it is created or edited."""

from datetime import datetime

from core.models import Mailing


def mailing_schedule(*, mailing: Mailing, now: datetime) -> None:
    """Set when a new or edited mailing runs next; a window that contains `now` runs at once.

    Every view that creates or edits a mailing calls this after saving it.
    """
    if mailing.end_at <= now:
        mailing.next_run_at = None
        mailing.status = Mailing.Status.FINISHED
    else:
        mailing.next_run_at = max(mailing.start_at, now)
    mailing.save(update_fields=["next_run_at", "status", "updated_at"])
