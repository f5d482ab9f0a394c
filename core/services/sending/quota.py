"""The daily letter quota of a user, shared by all of their runs.

A day starts at local midnight (TIME_ZONE). What a user has used of it is the letters the
ledger recorded as accepted since then, plus the letters their open runs hold reserved: a run
hands a letter to an SMTP connection only under a reservation (`Attempt.quota_reserved`),
taken in a transaction that locks the user's row (on SQLite every write transaction is
serialised anyway) and returned as the results are recorded. So no two runs can hand out the
same headroom, and the ledger never counts more accepted letters in a day than the quota.

What a run records late only errs on the safe side: a result already in the ledger but not
yet returned to the reservation counts twice for a moment, never zero times.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Greatest

from core.models import Attempt, Delivery, User


def daily_quota_of(user: User) -> int:
    """The letters a day `user` may send: their own quota, or the service's DAILY_LETTER_QUOTA."""
    return user.daily_quota if user.daily_quota is not None else settings.DAILY_LETTER_QUOTA


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The local midnight that began the day of `now` and the one that ends it (TIME_ZONE)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def letters_accepted_today(*, owner_id: int, now: datetime) -> int:
    """Letters of the user's runs accepted since local midnight; a range of one index."""
    start, _end = day_bounds(now)
    return Delivery.objects.filter(
        owner_id=owner_id, status=Delivery.Status.ACCEPTED, sent_at__gte=start
    ).count()


def quota_reserve(
    *, attempt: Attempt, owner_id: int, want: int, returned: int, now: datetime
) -> int | None:
    """Reserve up to `want` letters of the owner's day for `attempt`, first giving back the
    `returned` ones whose results the run has recorded since it last said so.

    Returns how many it got (0: the day's quota is used up, or held by other runs), or None
    when the run is no longer open. Three queries under the owner's row lock.

    Not conditional on the lease: a sender that lost its lease and has not noticed yet still
    sends, so what it reserves must count (its new holder's reservations are added to it).
    """
    with transaction.atomic():
        owner = User.objects.select_for_update().only("id", "daily_quota").get(pk=owner_id)
        accepted = letters_accepted_today(owner_id=owner_id, now=now)
        reserved = (
            Attempt.objects.filter(
                mailing__owner_id=owner_id, status=Attempt.Status.RUNNING
            ).aggregate(total=Sum("quota_reserved"))["total"]
            or 0
        ) - returned
        granted = max(0, min(want, daily_quota_of(owner) - accepted - reserved))
        updated = Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.RUNNING).update(
            # Never below zero, whatever ended the run's turn meanwhile and cleared it.
            quota_reserved=Greatest(F("quota_reserved") - returned, 0) + granted
        )
    return granted if updated else None
