"""Run slots of a mailing: when the 0th, 1st, ... send of a periodic mailing is due.

Pure functions, no ORM and no settings: the caller passes the mailing's time zone.

Rules shared by every function here:

* Slots follow the LOCAL wall clock of ``tz`` from the first send, never fixed UTC
  offsets: a daily 09:00 mailing stays at 09:00 local time across DST changes, weekly
  adds 7 local calendar days, monthly adds calendar months to the FIRST send's date and
  clamps the day to the month's length (31 Jan -> 28/29 Feb -> 31 Mar -> 30 Apr), so a
  short month never makes the mailing drift to the 28th for good.
* A "once" mailing has slot 0 alone: asking for any later slot raises OverflowError, as a
  slot past the range of ``datetime`` does, so every walk below stops after it.
* The end is INCLUSIVE: a slot exactly at the end runs. The page shows the end as the last
  moment a run may start, and the status turns "Finished" only after that slot ran, so a
  weekly mailing whose end is first send + 7 days runs twice and finishes at its shown end.
* Slot 0 is the first send itself. Later slots are local wall-clock times, turned into
  instants with one deterministic rule: a slot is the EARLIEST instant at which the
  local clock shows that wall time or a later one. Concretely:
  - an ambiguous time (autumn fall-back, the hour happens twice) is its first
    occurrence, i.e. ``fold=0``;
  - a non-existent time (spring-forward gap) becomes the moment the clocks jump, i.e.
    the end of the gap (Berlin 02:30 on the spring-forward day -> 03:00 CEST).
  This rule is monotonic, so slots strictly increase, also in a zone that skipped a
  whole calendar day (Pacific/Apia, 2011-12-30), where "shift by the gap length" would
  give two slots the same instant. The one case no rule can separate: a daily slot at
  exactly the first wall-clock instant of a skipped day shares its instant with the
  next day's slot; ``next_slot_after`` then treats the pair as one run.
* Every returned datetime is in UTC. Aware datetimes that share a ``tzinfo`` are
  compared by wall time with ``fold`` ignored, so in the fall-back hour two local
  datetimes can compare in the wrong order; UTC values always compare by instant.
  Inputs may be aware datetimes in any zone; naive ones are rejected.
"""

import calendar
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

ONCE: Final = "once"
DAILY: Final = "daily"
WEEKLY: Final = "weekly"
MONTHLY: Final = "monthly"
REPEATING: Final = (DAILY, WEEKLY, MONTHLY)
PERIODICITIES: Final = (ONCE, *REPEATING)

_DAYS_PER_STEP: Final = {DAILY: 1, WEEKLY: 7}


def slot_at(*, first: datetime, periodicity: str, index: int, tz: ZoneInfo) -> datetime:
    """Return the ``index``-th slot (0 is ``first``) of a mailing, in UTC.

    Raises OverflowError when the slot lies beyond the range of ``datetime``.
    """
    _check_periodicity(periodicity)
    _check_aware(first=first)
    if index < 0:
        raise ValueError(f"Slot index must be >= 0, got {index}.")
    if index == 0:
        # The first send is an instant already; re-deriving it from its wall time could
        # move it to the other occurrence of an ambiguous hour.
        return first.astimezone(UTC)

    first_wall = first.astimezone(tz).replace(tzinfo=None, fold=0)
    return _earliest_instant_showing(wall=_wall_time_of_slot(first_wall, periodicity, index), tz=tz)


def slot_index_at_or_before(
    *, first: datetime, periodicity: str, moment: datetime, tz: ZoneInfo
) -> int | None:
    """Return the index of the latest slot at or before ``moment``; None if ``moment`` < first.

    A run started at ``moment`` serves this slot, so two runs can never claim the same one.
    """
    _check_periodicity(periodicity)
    _check_aware(first=first, moment=moment)
    first, moment = first.astimezone(UTC), moment.astimezone(UTC)
    if moment < first:
        return None

    index = _estimate_index(first=first, periodicity=periodicity, moment=moment, tz=tz)
    # The estimate works on wall-clock dates, which differ from elapsed time by at most a
    # UTC offset change, so it is off by a step or two; walk to the exact index.
    while index > 0 and slot_at(first=first, periodicity=periodicity, index=index, tz=tz) > moment:
        index -= 1
    while True:
        try:
            following = slot_at(first=first, periodicity=periodicity, index=index + 1, tz=tz)
        except OverflowError:
            return index
        if following > moment:
            return index
        index += 1


def slot_at_or_before(
    *, first: datetime, periodicity: str, moment: datetime, end: datetime, tz: ZoneInfo
) -> datetime | None:
    """Return the latest slot at or before ``moment`` and at or before ``end``, in UTC.

    None before the first send or when that slot is past the end. Slots missed before it
    collapse into this one: a mailing that was not sent for a while runs once, not once a slot.
    """
    _check_aware(first=first, moment=moment, end=end)
    index = slot_index_at_or_before(first=first, periodicity=periodicity, moment=moment, tz=tz)
    if index is None:
        return None
    slot = slot_at(first=first, periodicity=periodicity, index=index, tz=tz)
    return slot if slot <= end else None


def next_slot_after(
    *, first: datetime, periodicity: str, after: datetime, end: datetime, tz: ZoneInfo
) -> datetime | None:
    """Return the earliest slot strictly after ``after`` and at or before ``end``, in UTC.

    None when no slot remains. Slots missed before ``after`` are skipped, not replayed.
    """
    _check_aware(first=first, after=after, end=end)
    index = slot_index_at_or_before(first=first, periodicity=periodicity, moment=after, tz=tz)
    next_index = 0 if index is None else index + 1
    try:
        candidate = slot_at(first=first, periodicity=periodicity, index=next_index, tz=tz)
    except OverflowError:
        return None
    # The end is inclusive: a slot exactly at the end runs.
    return candidate if candidate <= end else None


class Schedule(Protocol):
    """What a mailing's slots follow from; a `Mailing` is one."""

    start_at: datetime
    periodicity: str
    end_at: datetime


def slot_and_next(
    *, schedule: Schedule, moment: datetime, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Return ``slot_at_or_before`` and ``next_slot_after`` of ``moment`` for ``schedule``.

    The pair every scheduling decision asks for: the slot ``moment`` falls in, and the next one.
    """
    window = {"first": schedule.start_at, "periodicity": schedule.periodicity, "tz": tz}
    return (
        slot_at_or_before(**window, moment=moment, end=schedule.end_at),
        next_slot_after(**window, after=moment, end=schedule.end_at),
    )


def _check_periodicity(periodicity: str) -> None:
    if periodicity not in PERIODICITIES:
        raise ValueError(f"Unknown periodicity {periodicity!r}; expected one of {PERIODICITIES}.")


def _check_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if moment.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}.")


def _wall_time_of_slot(first_wall: datetime, periodicity: str, index: int) -> datetime:
    if periodicity == ONCE:
        raise OverflowError("A one-off mailing has no slot after its first send.")
    if periodicity == MONTHLY:
        return _add_months_clamped(first_wall, index)
    # Naive datetimes add days on the wall clock: 09:00 + 1 day is 09:00 whatever the DST.
    return first_wall + timedelta(days=_DAYS_PER_STEP[periodicity] * index)


def _add_months_clamped(wall: datetime, months: int) -> datetime:
    month_number = wall.year * 12 + (wall.month - 1) + months
    year, month = divmod(month_number, 12)
    month += 1
    if year > datetime.max.year:
        raise OverflowError(f"Slot falls after year {datetime.max.year}.")
    day = min(wall.day, calendar.monthrange(year, month)[1])
    return wall.replace(year=year, month=month, day=day)


def _earliest_instant_showing(*, wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the earliest instant, in UTC, at which the clock in ``tz`` shows ``wall`` or later."""
    # fold=0 picks the first occurrence of an ambiguous time.
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # ``wall`` is in a gap. With fold=0 zoneinfo used the offset from before the jump,
    # which lands ``instant`` after the jump by (wall - gap start); the jump itself lies
    # within one offset change before it. Bisect for it (gaps are rare, ~40 steps).
    offset_after_jump = instant.astimezone(tz).utcoffset()
    jump_size = offset_after_jump - wall.replace(tzinfo=tz, fold=0).utcoffset()
    before, at_or_after = instant - jump_size, instant
    resolution = timedelta(microseconds=1)
    while at_or_after - before > resolution:
        middle = before + (at_or_after - before) / 2
        if middle.astimezone(tz).utcoffset() == offset_after_jump:
            at_or_after = middle
        else:
            before = middle
    return at_or_after


def _estimate_index(*, first: datetime, periodicity: str, moment: datetime, tz: ZoneInfo) -> int:
    first_wall = first.astimezone(tz).replace(tzinfo=None)
    moment_wall = moment.astimezone(tz).replace(tzinfo=None)
    if periodicity == ONCE:
        return 0
    if periodicity == MONTHLY:
        months = (moment_wall.year - first_wall.year) * 12 + moment_wall.month - first_wall.month
        return max(months, 0)
    days = (moment_wall - first_wall) // timedelta(days=1)
    return max(days // _DAYS_PER_STEP[periodicity], 0)
