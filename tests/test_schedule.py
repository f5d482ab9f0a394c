"""Tests for the run-slot arithmetic of periodic mailings."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.services import slots
from core.services.slots import (
    DAILY,
    MONTHLY,
    REPEATING,
    WEEKLY,
    next_slot_after,
    slot_at,
    slot_index_at_or_before,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MOSCOW = ZoneInfo("Europe/Moscow")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # DST shifts by 30 minutes
APIA = ZoneInfo("Pacific/Apia")  # skipped 2011-12-30 entirely
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def local_slots(*, first: datetime, periodicity: str, count: int, tz: ZoneInfo) -> list[datetime]:
    """Return the first ``count`` slots as local datetimes of ``tz``."""
    return [
        slot_at(first=first, periodicity=periodicity, index=index, tz=tz).astimezone(tz)
        for index in range(count)
    ]


# --- month ends ---------------------------------------------------------------------------


def test_monthly_from_january_31_falls_on_last_day_of_february():
    first = datetime(2023, 1, 31, 9, 0, tzinfo=MOSCOW)

    second = slot_at(first=first, periodicity=MONTHLY, index=1, tz=MOSCOW)

    assert second == datetime(2023, 2, 28, 9, 0, tzinfo=MOSCOW)


def test_monthly_from_january_31_falls_on_february_29_in_leap_year():
    first = datetime(2024, 1, 31, 9, 0, tzinfo=MOSCOW)

    second = slot_at(first=first, periodicity=MONTHLY, index=1, tz=MOSCOW)

    assert second == datetime(2024, 2, 29, 9, 0, tzinfo=MOSCOW)


def test_monthly_returns_to_day_31_after_short_months_instead_of_drifting():
    first = datetime(2023, 1, 31, 9, 0, tzinfo=MOSCOW)

    days = [
        slot.date().isoformat()
        for slot in local_slots(first=first, periodicity=MONTHLY, count=6, tz=MOSCOW)
    ]

    assert days == [
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",
        "2023-04-30",
        "2023-05-31",
        "2023-06-30",
    ]


def test_monthly_far_slot_is_computed_from_the_first_send_not_the_previous_slot():
    first = datetime(2023, 1, 31, 9, 0, tzinfo=MOSCOW)

    slot = slot_at(first=first, periodicity=MONTHLY, index=13, tz=MOSCOW)

    assert slot == datetime(2024, 2, 29, 9, 0, tzinfo=MOSCOW)


def test_monthly_crosses_year_boundary():
    first = datetime(2023, 11, 15, 18, 30, tzinfo=MOSCOW)

    slot = slot_at(first=first, periodicity=MONTHLY, index=2, tz=MOSCOW)

    assert slot == datetime(2024, 1, 15, 18, 30, tzinfo=MOSCOW)


# --- wall clock across DST ------------------------------------------------------------------


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK], ids=str)
def test_daily_at_9_stays_at_9_local_across_both_dst_changes(tz):
    first = datetime(2024, 3, 1, 9, 0, tzinfo=tz)

    slots = local_slots(first=first, periodicity=DAILY, count=300, tz=tz)

    assert {(slot.hour, slot.minute) for slot in slots} == {(9, 0)}
    # It really crossed both changes: the UTC offset took two values.
    assert len({slot.utcoffset() for slot in slots}) == 2


def test_daily_slots_are_23_and_25_hours_apart_on_dst_change_days():
    first = datetime(2024, 3, 30, 9, 0, tzinfo=BERLIN)
    spring = [slot_at(first=first, periodicity=DAILY, index=i, tz=BERLIN) for i in (0, 1)]
    first = datetime(2024, 10, 26, 9, 0, tzinfo=BERLIN)
    autumn = [slot_at(first=first, periodicity=DAILY, index=i, tz=BERLIN) for i in (0, 1)]

    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_weekly_keeps_local_time_and_weekday_across_dst():
    first = datetime(2024, 3, 7, 9, 0, tzinfo=NEW_YORK)  # US clocks change on 10 March

    slots = local_slots(first=first, periodicity=WEEKLY, count=3, tz=NEW_YORK)

    assert [(s.date().isoformat(), s.hour) for s in slots] == [
        ("2024-03-07", 9),
        ("2024-03-14", 9),
        ("2024-03-21", 9),
    ]
    elapsed = slots[1].astimezone(UTC) - slots[0].astimezone(UTC)
    assert elapsed == timedelta(days=7, hours=-1)


def test_slots_are_returned_in_utc():
    first = datetime(2024, 1, 31, 9, 0, tzinfo=BERLIN)

    slots = [slot_at(first=first, periodicity=MONTHLY, index=i, tz=BERLIN) for i in range(3)]

    assert all(slot.tzinfo is UTC for slot in slots)


# --- non-existent and ambiguous local times -----------------------------------------------


def test_slot_in_spring_forward_gap_runs_when_the_clocks_jump():
    # Berlin jumps from 02:00 CET to 03:00 CEST on 2024-03-31; 02:30 does not exist.
    first = datetime(2024, 3, 30, 2, 30, tzinfo=BERLIN)

    slots = local_slots(first=first, periodicity=DAILY, count=3, tz=BERLIN)

    assert slots[1] == datetime(2024, 3, 31, 3, 0, tzinfo=BERLIN)
    assert slots[1].utcoffset() == timedelta(hours=2)
    assert slots[2] == datetime(2024, 4, 1, 2, 30, tzinfo=BERLIN)


def test_slot_in_half_hour_gap_runs_when_the_clocks_jump():
    # Lord Howe Island jumps from 02:00 to 02:30 on 2024-10-06.
    first = datetime(2024, 10, 5, 2, 10, tzinfo=LORD_HOWE)

    slot = slot_at(first=first, periodicity=DAILY, index=1, tz=LORD_HOWE)

    assert slot == datetime(2024, 10, 5, 15, 30, tzinfo=UTC)
    assert slot.astimezone(LORD_HOWE).replace(tzinfo=None) == datetime(2024, 10, 6, 2, 30)


def test_slot_in_fall_back_hour_runs_at_the_first_occurrence():
    # Berlin repeats 02:00-03:00 on 2024-10-27: first in CEST (+2), then in CET (+1).
    first = datetime(2024, 10, 26, 2, 30, tzinfo=BERLIN)

    slot = slot_at(first=first, periodicity=DAILY, index=1, tz=BERLIN)

    assert slot == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_first_send_in_second_occurrence_of_fall_back_hour_is_kept_as_given():
    first = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)  # 01:30 UTC

    assert slot_at(first=first, periodicity=DAILY, index=0, tz=BERLIN) == datetime(
        2024, 10, 27, 1, 30, tzinfo=UTC
    )
    assert slot_at(first=first, periodicity=DAILY, index=1, tz=BERLIN) == datetime(
        2024, 10, 28, 1, 30, tzinfo=UTC
    )


def test_daily_slots_stay_ordered_when_a_whole_day_is_skipped():
    # Samoa moved across the date line: 2011-12-29 was followed by 2011-12-31.
    first = datetime(2011, 12, 28, 9, 0, tzinfo=APIA)

    slots = local_slots(first=first, periodicity=DAILY, count=4, tz=APIA)

    assert [s.replace(tzinfo=None).isoformat() for s in slots] == [
        "2011-12-28T09:00:00",
        "2011-12-29T09:00:00",
        "2011-12-31T00:00:00",  # the skipped day's slot runs when the day is skipped
        "2011-12-31T09:00:00",
    ]


def test_slot_comparisons_are_by_instant_inside_the_fall_back_hour():
    # Same-tzinfo comparisons ignore fold; UTC results must not.
    first = datetime(2024, 10, 27, 2, 45, fold=0, tzinfo=BERLIN)  # 00:45 UTC
    after = datetime(2024, 10, 27, 2, 15, fold=1, tzinfo=BERLIN)  # 01:15 UTC, later

    slot = next_slot_after(first=first, periodicity=DAILY, after=after, end=FAR_FUTURE, tz=BERLIN)

    assert slot == datetime(2024, 10, 28, 2, 45, tzinfo=BERLIN)


# --- next_slot_after ----------------------------------------------------------------------


def test_next_slot_after_a_moment_before_the_first_send_is_the_first_send():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)

    slot = next_slot_after(
        first=first, periodicity=DAILY, after=first - timedelta(days=3), end=FAR_FUTURE, tz=MOSCOW
    )

    assert slot == first


def test_next_slot_after_the_first_send_itself_is_the_second_slot():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)

    slot = next_slot_after(first=first, periodicity=WEEKLY, after=first, end=FAR_FUTURE, tz=MOSCOW)

    assert slot == datetime(2024, 5, 8, 9, 0, tzinfo=MOSCOW)


def test_slot_exactly_at_end_runs_the_end_is_inclusive():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)
    end = datetime(2024, 5, 3, 9, 0, tzinfo=MOSCOW)

    assert next_slot_after(
        first=first,
        periodicity=DAILY,
        after=datetime(2024, 5, 2, 9, 0, tzinfo=MOSCOW),
        end=end,
        tz=MOSCOW,
    ) == datetime(2024, 5, 3, 9, 0, tzinfo=MOSCOW)
    assert (
        next_slot_after(
            first=first,
            periodicity=DAILY,
            after=datetime(2024, 5, 3, 9, 0, tzinfo=MOSCOW),
            end=end,
            tz=MOSCOW,
        )
        is None
    )


def test_first_send_at_end_runs_once():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)

    slot = next_slot_after(
        first=first, periodicity=DAILY, after=first - timedelta(hours=1), end=first, tz=MOSCOW
    )

    assert slot == first


def test_a_once_mailing_has_its_first_send_as_its_only_slot():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)
    window = {"first": first, "periodicity": slots.ONCE, "end": FAR_FUTURE, "tz": MOSCOW}

    assert next_slot_after(**window, after=first - timedelta(days=1)) == first
    assert next_slot_after(**window, after=first) is None
    assert slots.slot_at_or_before(**window, moment=first + timedelta(days=400)) == first


def test_a_weekly_mailing_ending_a_week_after_its_first_send_runs_at_its_end_too():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)
    end = first + timedelta(days=7)

    second = next_slot_after(first=first, periodicity=WEEKLY, after=first, end=end, tz=MOSCOW)

    assert second == end


def test_after_a_long_outage_only_the_next_slot_is_returned_not_the_missed_ones():
    first = datetime(2024, 1, 1, 9, 0, tzinfo=MOSCOW)
    back_online = datetime(2024, 7, 15, 12, 0, tzinfo=MOSCOW)

    slot = next_slot_after(
        first=first, periodicity=DAILY, after=back_online, end=FAR_FUTURE, tz=MOSCOW
    )

    assert slot == datetime(2024, 7, 16, 9, 0, tzinfo=MOSCOW)


def test_next_slot_after_decades_is_found_without_walking_every_slot(monkeypatch):
    calls = []
    real_slot_at = slots.slot_at

    def counting_slot_at(**kwargs):
        calls.append(kwargs["index"])
        return real_slot_at(**kwargs)

    monkeypatch.setattr(slots, "slot_at", counting_slot_at)
    first = datetime(2000, 1, 31, 9, 0, tzinfo=BERLIN)

    daily = slots.next_slot_after(
        first=first,
        periodicity=DAILY,
        after=datetime(2090, 6, 1, tzinfo=UTC),
        end=FAR_FUTURE,
        tz=BERLIN,
    )
    monthly = slots.next_slot_after(
        first=first,
        periodicity=MONTHLY,
        after=datetime(2090, 2, 28, 9, 0, tzinfo=BERLIN),
        end=FAR_FUTURE,
        tz=BERLIN,
    )

    assert daily == datetime(2090, 6, 1, 9, 0, tzinfo=BERLIN)
    assert monthly == datetime(2090, 3, 31, 9, 0, tzinfo=BERLIN)
    assert len(calls) <= 10


def test_no_slot_after_the_last_one_before_end():
    first = datetime(2024, 1, 31, 9, 0, tzinfo=MOSCOW)
    end = datetime(2024, 4, 1, tzinfo=MOSCOW)

    slot = next_slot_after(
        first=first,
        periodicity=MONTHLY,
        after=datetime(2024, 3, 31, 9, 0, tzinfo=MOSCOW),
        end=end,
        tz=MOSCOW,
    )

    assert slot is None


def test_slot_and_next_of_a_schedule_are_the_slot_a_moment_falls_in_and_the_one_after():
    schedule = SimpleNamespace(
        start_at=datetime(2024, 1, 31, 9, 0, tzinfo=MOSCOW),
        periodicity=MONTHLY,
        end_at=datetime(2024, 4, 1, tzinfo=MOSCOW),
    )

    inside = slots.slot_and_next(
        schedule=schedule, moment=datetime(2024, 2, 29, 12, 0, tzinfo=MOSCOW), tz=MOSCOW
    )
    last = slots.slot_and_next(
        schedule=schedule, moment=datetime(2024, 3, 31, 9, 0, tzinfo=MOSCOW), tz=MOSCOW
    )

    assert inside == (
        datetime(2024, 2, 29, 9, 0, tzinfo=MOSCOW),
        datetime(2024, 3, 31, 9, 0, tzinfo=MOSCOW),
    )
    assert last == (datetime(2024, 3, 31, 9, 0, tzinfo=MOSCOW), None)


# --- slot_index_at_or_before ----------------------------------------------------------------


def test_slot_index_before_the_first_send_is_none():
    first = datetime(2024, 5, 1, 9, 0, tzinfo=MOSCOW)

    index = slot_index_at_or_before(
        first=first, periodicity=DAILY, moment=first - timedelta(microseconds=1), tz=MOSCOW
    )

    assert index is None


def test_a_run_started_exactly_at_a_slot_claims_that_slot_and_a_second_later_still_does():
    first = datetime(2024, 1, 31, 9, 0, tzinfo=MOSCOW)
    slot_2 = datetime(2024, 3, 31, 9, 0, tzinfo=MOSCOW)

    at = slot_index_at_or_before(first=first, periodicity=MONTHLY, moment=slot_2, tz=MOSCOW)
    later = slot_index_at_or_before(
        first=first, periodicity=MONTHLY, moment=slot_2 + timedelta(seconds=1), tz=MOSCOW
    )
    just_before = slot_index_at_or_before(
        first=first, periodicity=MONTHLY, moment=slot_2 - timedelta(seconds=1), tz=MOSCOW
    )

    assert (at, later, just_before) == (2, 2, 1)


# --- argument checking --------------------------------------------------------------------


def test_unknown_periodicity_is_rejected():
    with pytest.raises(ValueError, match="periodicity"):
        slot_at(first=datetime(2024, 1, 1, tzinfo=UTC), periodicity="hourly", index=1, tz=MOSCOW)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="aware"):
        next_slot_after(
            first=datetime(2024, 1, 1, tzinfo=UTC),
            periodicity=DAILY,
            after=datetime(2024, 2, 1),
            end=FAR_FUTURE,
            tz=MOSCOW,
        )


def test_negative_index_is_rejected():
    with pytest.raises(ValueError, match="index"):
        slot_at(first=datetime(2024, 1, 1, tzinfo=UTC), periodicity=DAILY, index=-1, tz=MOSCOW)


# --- properties -----------------------------------------------------------------------------

ZONES_WITH_HISTORY = [
    BERLIN,
    NEW_YORK,
    MOSCOW,
    LORD_HOWE,
    ZoneInfo("America/Santiago"),
    ZoneInfo("Australia/Sydney"),
    ZoneInfo("Asia/Tehran"),
    ZoneInfo("UTC"),
]

zones = st.sampled_from(ZONES_WITH_HISTORY)
periodicities = st.sampled_from(REPEATING)
# Wall-clock first sends, minute precision like the product's form; hypothesis favours
# boundaries such as 02:00 and month ends, which is where DST and clamping bite.
first_walls = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2045, 12, 31))
folds = st.sampled_from([0, 1])


def aware_first(wall: datetime, fold: int, tz: ZoneInfo) -> datetime:
    """Return ``wall`` in ``tz`` as a real instant (gap times resolve as zoneinfo does)."""
    return wall.replace(tzinfo=tz, fold=fold).astimezone(UTC).astimezone(tz)


@settings(max_examples=200, deadline=None)
@given(
    wall=first_walls,
    fold=folds,
    tz=zones,
    periodicity=periodicities,
    index=st.integers(min_value=0, max_value=800),
)
def test_slots_strictly_increase(wall, fold, tz, periodicity, index):
    first = aware_first(wall, fold, tz)

    this = slot_at(first=first, periodicity=periodicity, index=index, tz=tz)
    following = slot_at(first=first, periodicity=periodicity, index=index + 1, tz=tz)

    assert this < following


@settings(max_examples=200, deadline=None)
@given(
    wall=first_walls,
    fold=folds,
    tz=zones,
    periodicity=periodicities,
    index=st.integers(min_value=0, max_value=800),
)
def test_next_slot_after_a_slot_is_the_following_slot(wall, fold, tz, periodicity, index):
    first = aware_first(wall, fold, tz)
    this = slot_at(first=first, periodicity=periodicity, index=index, tz=tz)
    following = slot_at(first=first, periodicity=periodicity, index=index + 1, tz=tz)

    found = next_slot_after(first=first, periodicity=periodicity, after=this, end=FAR_FUTURE, tz=tz)

    assert found == following
    assert (
        slot_index_at_or_before(first=first, periodicity=periodicity, moment=this, tz=tz) == index
    )


@settings(max_examples=200, deadline=None)
@given(
    wall=first_walls,
    fold=folds,
    tz=zones,
    periodicity=periodicities,
    after_offset=st.timedeltas(min_value=timedelta(days=-60), max_value=timedelta(days=20000)),
    end_offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_next_slot_after_is_a_slot_strictly_between_after_and_end(
    wall, fold, tz, periodicity, after_offset, end_offset
):
    first = aware_first(wall, fold, tz)
    after = first + after_offset
    end = after + end_offset

    found = next_slot_after(first=first, periodicity=periodicity, after=after, end=end, tz=tz)

    if found is None:
        # Nothing was skipped: the true next slot is at or beyond the end.
        index = slot_index_at_or_before(first=first, periodicity=periodicity, moment=after, tz=tz)
        next_index = 0 if index is None else index + 1
        assert slot_at(first=first, periodicity=periodicity, index=next_index, tz=tz) >= end
        return
    assert after < found < end
    index = slot_index_at_or_before(first=first, periodicity=periodicity, moment=found, tz=tz)
    assert slot_at(first=first, periodicity=periodicity, index=index, tz=tz) == found
    # And it is the earliest such slot: the slot before it is not after ``after``.
    if index > 0:
        assert slot_at(first=first, periodicity=periodicity, index=index - 1, tz=tz) <= after
