"""When mailings go out: the schedule as the scheduler and the mailing forms apply it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.models import Attempt, Mailing
from core.services import sending, slots
from core.services.scheduling import mailing_schedule
from tests.factories import make_clients, make_mailing
from tests.tasks import tasks_queued

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def test_a_due_mailing_runs_once_for_its_slot_and_is_scheduled_for_the_next(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    call_command("send_mailings")
    call_command("send_mailings")  # the same slot again: nothing to do

    (attempt,) = Attempt.objects.filter(mailing=mailing)
    assert attempt.slot_at == mailing.start_at
    mailing.refresh_from_db()
    assert mailing.next_run_at == mailing.start_at + timedelta(days=1)
    assert mailing.status == "running"
    assert len(sink.messages) == 2


def test_runs_missed_while_down_are_not_replayed_the_next_goes_once(user, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    mailing = make_mailing(owner=user, start_at=at(2026, 3, 1, 9), end_at=at(2026, 12, 31, 9))

    sending.mailings_send_due(now=at(2026, 3, 10, 15, 30))

    (attempt,) = Attempt.objects.filter(mailing=mailing)
    assert attempt.slot_at == at(2026, 3, 10, 9)
    mailing.refresh_from_db()
    assert mailing.next_run_at == at(2026, 3, 11, 9)


def test_status_moves_from_created_to_running_to_finished(user, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    mailing = make_mailing(
        owner=user, start_at=at(2026, 1, 31, 9), end_at=at(2026, 3, 15, 0), periodicity="monthly"
    )
    assert mailing.status == "created"

    sending.mailings_send_due(now=at(2026, 1, 31, 9, 1))
    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("running", at(2026, 2, 28, 9))

    sending.mailings_send_due(now=at(2026, 2, 28, 9, 1))
    mailing.refresh_from_db()
    # 31 March is after the end: no slot remains, the last run finished the mailing.
    assert (mailing.status, mailing.next_run_at) == ("finished", None)
    assert list(mailing.attempts.order_by("slot_at").values_list("slot_at", flat=True)) == [
        at(2026, 1, 31, 9),
        at(2026, 2, 28, 9),
    ]


def test_a_mailing_whose_window_closed_while_down_finishes_without_sending(user, settings):
    mailing = make_mailing(owner=user, start_at=at(2026, 3, 1, 9), end_at=at(2026, 3, 5, 9))

    sending.mailings_send_due(now=at(2026, 3, 20, 9))

    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("finished", None)
    assert not mailing.attempts.exists()


def test_send_mailings_with_a_mailing_id_sends_it_now_whatever_its_schedule(sink, user):
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), start_at=tomorrow)

    call_command("send_mailings", "--mailing", str(mailing.pk))

    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.slot_at) == ("success", None)
    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("running", tomorrow)


# --- mailing_schedule, called by the create and edit views ------------------------------------


def test_a_mailing_saved_before_its_first_send_waits_for_it(user):
    mailing = make_mailing(owner=user, start_at=at(2026, 6, 1, 9), end_at=at(2026, 7, 1, 9))

    mailing_schedule(mailing=mailing, now=at(2026, 5, 1, 12))

    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("created", at(2026, 6, 1, 9))
    assert tasks_queued() == []


def test_a_mailing_saved_inside_its_window_is_due_at_once(user):
    mailing = make_mailing(owner=user, start_at=at(2026, 5, 1, 9), end_at=at(2026, 7, 1, 9))

    mailing_schedule(mailing=mailing, now=at(2026, 5, 3, 12))

    mailing.refresh_from_db()
    assert mailing.next_run_at == at(2026, 5, 3, 9)  # today's slot, not yet served
    # A worker sends it: the task, written with the save, names the mailing.
    assert tasks_queued() == ["core.services.sending.background.mailing_send_due_task"]


def test_an_edit_never_runs_a_slot_that_was_already_served(user):
    mailing = make_mailing(owner=user, start_at=at(2026, 5, 1, 9), end_at=at(2026, 7, 1, 9))
    Attempt.objects.create(mailing=mailing, slot_at=at(2026, 5, 3, 9), status="success")

    mailing_schedule(mailing=mailing, now=at(2026, 5, 3, 12))

    mailing.refresh_from_db()
    assert mailing.next_run_at == at(2026, 5, 4, 9)
    assert tasks_queued() == []


def test_a_mailing_saved_after_its_end_is_finished(user):
    mailing = make_mailing(owner=user, start_at=at(2026, 5, 1, 9), end_at=at(2026, 5, 2, 9))

    mailing_schedule(mailing=mailing, now=at(2026, 5, 3, 12))

    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("finished", None)


# --- Properties of the schedule as the scheduler runs it --------------------------------------

PERIOD_AT_LEAST = {  # the shortest time between two slots (a DST day is 23 hours)
    "daily": timedelta(hours=23),
    "weekly": timedelta(days=7, hours=-1),
    "monthly": timedelta(days=28, hours=-1),
}


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    periodicity=st.sampled_from(["daily", "weekly", "monthly"]),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)),
    tick_fractions=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=5, max_size=40),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Europe/Moscow"]),
)
def test_while_the_scheduler_ticks_every_slot_runs_exactly_once(
    user, settings, periodicity, start, tick_fractions, zone
):
    settings.TIME_ZONE = zone
    tz = ZoneInfo(zone)
    Mailing.objects.all().delete()
    start_at = start.replace(tzinfo=tz)
    end_at = start_at + PERIOD_AT_LEAST[periodicity] * 30
    mailing = make_mailing(
        owner=user, start_at=start_at, end_at=end_at, periodicity=periodicity, time_zone=zone
    )

    # Ticks come at least once per slot interval, at arbitrary moments.
    now = start_at - timedelta(minutes=1)
    for fraction in tick_fractions:
        now += PERIOD_AT_LEAST[periodicity] * fraction
        sending.mailings_send_due(now=now)

    served = list(mailing.attempts.order_by("slot_at").values_list("slot_at", flat=True))
    expected = []
    index = 0
    while (
        slot := slots.slot_at(first=start_at, periodicity=periodicity, index=index, tz=tz)
    ) <= now:
        if slot <= end_at:  # the end is inclusive
            expected.append(slot)
        index += 1
    assert served == expected
