"""A mailing's name, its time zone, its one-off kind, its form's defaults and its dates:
through the test client and the scheduler, as a user meets them."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, Mailing, Periodicity
from core.services.sending.claims import attempt_claim_due
from tests.factories import make_client, make_clients, make_mailing, make_message

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berliner(user):
    user.time_zone = "Europe/Berlin"
    user.save(update_fields=["time_zone"])
    return user


def post_mailing(client, user, **fields):
    data = {
        "name": "Morning digest",
        "message": make_message(owner=user, subject="Digest").pk,
        "clients": [make_client(owner=user).pk],
        "periodicity": Periodicity.DAILY,
        **fields,
    }
    return client.post(reverse("mailing-create"), data)


# Time zones (point 8)


def test_dates_are_entered_and_shown_in_the_users_zone_and_named(user_client, berliner):
    post_mailing(user_client, berliner, start_at="2030-03-30T09:00", end_at="2030-04-30T09:00")

    mailing = Mailing.objects.get(name="Morning digest")
    assert mailing.start_at == datetime(2030, 3, 30, 9, 0, tzinfo=BERLIN)
    assert mailing.time_zone == "Europe/Berlin"
    html = user_client.get(reverse("mailing-detail", args=[mailing.pk])).content.decode()
    assert "03/30/2030 9 a.m." in html
    assert 'data-testid="time-zone">Europe/Berlin' in html
    assert 'data-testid="footer-time-zone">Times in Europe/Berlin' in html


def test_a_daily_mailing_keeps_its_wall_clock_across_dst_in_its_own_zone(user_client, berliner):
    # Berlin moves its clocks on 31 March 2030; Moscow (the service's zone) does not.
    post_mailing(user_client, berliner, start_at="2030-03-30T09:00", end_at="2030-04-30T09:00")
    mailing = Mailing.objects.get(name="Morning digest")

    attempt_claim_due(now=mailing.start_at, mailing_id=mailing.pk)

    mailing.refresh_from_db()
    assert mailing.next_run_at == datetime(2030, 3, 31, 9, 0, tzinfo=BERLIN)
    assert mailing.next_run_at == datetime(2030, 3, 31, 7, 0, tzinfo=UTC)


def test_the_profile_sets_the_users_time_zone(user_client, user):
    page = user_client.get(reverse("sender-profile")).content.decode()
    assert 'name="time_zone"' in page

    user_client.post(reverse("sender-profile"), {"time_zone": "America/New_York"})

    user.refresh_from_db()
    assert user.time_zone == "America/New_York"


# Form defaults and the format beside the inputs (point 9)


def test_a_new_mailing_form_starts_at_the_next_five_minutes_and_ends_a_month_later(
    htmx_client, berliner
):
    form = htmx_client.get(reverse("mailing-create")).context["form"]

    start, end = form.initial["start_at"], form.initial["end_at"]
    now = timezone.now()
    assert timedelta(0) < start - now <= timedelta(minutes=5)
    assert start.astimezone(BERLIN).minute % 5 == 0 and start.second == 0
    assert (end.month - start.month) % 12 == 1 and end.time() == start.time()
    assert "Europe/Berlin" in form.fields["start_at"].help_text


# A one-off mailing (point 10)


def test_a_once_mailing_needs_no_end_and_runs_exactly_once(user_client, user):
    start = timezone.now() + timedelta(hours=1)
    response = post_mailing(
        user_client,
        user,
        periodicity=Periodicity.ONCE,
        start_at=timezone.localtime(start).strftime("%Y-%m-%dT%H:%M"),
        end_at="",
    )

    assert response.status_code == 302
    mailing = Mailing.objects.get(name="Morning digest")
    assert mailing.end_at == mailing.start_at
    assert mailing.next_run_at == mailing.start_at

    first = attempt_claim_due(now=mailing.start_at, mailing_id=mailing.pk)
    mailing.refresh_from_db()
    assert first is not None and mailing.next_run_at is None
    assert attempt_claim_due(now=mailing.start_at + timedelta(days=1)) is None


def test_a_repeating_mailing_still_needs_an_end(user_client, user):
    response = post_mailing(user_client, user, start_at="2030-01-01T09:00", end_at="")

    assert response.status_code == 200
    assert "end_at" in response.context["form"].errors


# A name of its own, and its recipients listed (point 11)


def test_a_mailing_is_shown_by_its_name_with_its_recipients_paged(user_client, user):
    mailing = make_mailing(owner=user, name="Spring campaign", subject="Sale -20%")
    mailing.clients.set(make_clients(owner=user, count=30, email="r{n:02}@example.com"))

    listing = user_client.get(reverse("mailing-list")).content.decode()
    page = user_client.get(reverse("mailing-detail", args=[mailing.pk])).content.decode()
    second = user_client.get(reverse("mailing-detail", args=[mailing.pk]), {"page": "2"})

    assert "Spring campaign" in listing
    assert "<title>Spring campaign" in page
    assert "r00@example.com" in page and "r29@example.com" not in page
    assert "r29@example.com" in second.content.decode()


def test_the_dashboard_shows_a_mailing_by_its_name(user_client, user):
    mailing = make_mailing(owner=user, name="Spring campaign", subject="Sale")
    Attempt.objects.create(mailing=mailing, status=Attempt.Status.SUCCESS)

    html = user_client.get(reverse("home")).content.decode()

    assert "Spring campaign" in html


# Status agrees with the shown end (point 12)


def test_a_weekly_mailing_is_not_finished_before_its_shown_end(user):
    start = timezone.now()
    mailing = make_mailing(
        owner=user,
        clients=[make_client(owner=user)],
        periodicity=Periodicity.WEEKLY,
        start_at=start,
        end_at=start + timedelta(days=7),
    )

    attempt_claim_due(now=start, mailing_id=mailing.pk)

    mailing.refresh_from_db()
    assert mailing.next_run_at == mailing.end_at
    assert mailing.status != Mailing.Status.FINISHED
