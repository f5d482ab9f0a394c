"""The dashboard's letters per day come from the tally the sending engine keeps (letters
accepted and failed per owner and UTC quarter-hour): over a varied history they are exactly
what counting the ledger gives, in every kind of time zone, on daylight-saving days, and after
mailings, runs, ledger lines, clients and users are deleted."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as HttpClient
from django.utils import timezone

from core import selectors
from core.models import Attempt, Client, Delivery, Mailing, SendingTally, User
from tests.factories import (
    ACCEPTED,
    FAILED,
    PENDING,
    SKIPPED,
    make_clients,
    make_mailing,
    make_superuser,
    make_user,
    record_run,
)

pytestmark = pytest.mark.django_db

# Whole hours with daylight saving (Berlin, New York), half and three-quarter hours without
# (Kolkata +5:30, Kathmandu +5:45), a half-hour daylight saving shift (Lord Howe +10:30/+11)
# and +12:45/+13:45 with daylight saving (Chatham).
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]
# Windows of 30 days holding the spring (March 9 New York, March 30 Berlin; April 6 Lord
# Howe and Chatham) and autumn (October 26 Berlin, November 2 New York) changes of 2025.
NOWS = [
    datetime(2025, 3, 20, 9, 7, tzinfo=UTC),
    datetime(2025, 4, 10, 12, 0, tzinfo=UTC),
    datetime(2025, 11, 10, 23, 59, 59, tzinfo=UTC),
]
OUTCOMES = [ACCEPTED, ACCEPTED, ACCEPTED, FAILED, PENDING, SKIPPED]


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))


def counted(*, user: User, now: datetime, zone: str) -> list[tuple[date, int, int]]:
    """Letters accepted and failed per local day of the 30 days to `now`, counted from the
    ledger itself; then the runs opened since by status, counted from the runs."""
    today = now.astimezone(ZoneInfo(zone)).date()
    since = local_midnight(today - timedelta(days=29), zone)
    runs = Attempt.objects.filter(mailing__owner=user, attempted_at__gte=since)
    rows = [tuple(runs.filter(status=s).count() for s in ("success", "failure", "running"))]
    for offset in range(29, -1, -1):
        day = today - timedelta(days=offset)
        sent = Delivery.objects.filter(
            owner=user,
            sent_at__gte=local_midnight(day, zone),
            sent_at__lt=local_midnight(day + timedelta(days=1), zone),
        )
        rows.append((day, sent.filter(status=ACCEPTED).count(), sent.filter(status=FAILED).count()))
    return rows


def tallied(*, user: User, now: datetime, zone: str) -> list[tuple[date, int, int]]:
    with timezone.override(ZoneInfo(zone)):
        figures = selectors.dashboard_figures(user=user, now=now)
    runs = (figures.attempts_success, figures.attempts_failure, figures.attempts_running)
    return [runs] + [(d.day, d.accepted, d.failed) for d in figures.days]


def moments(rng: random.Random) -> list[datetime]:
    """When runs happened: each day around the windows, a moment on each side of every zone's
    local midnight (one microsecond before, exactly at it) and a few at random."""
    found = []
    for first, last in [
        (date(2025, 2, 15), date(2025, 4, 12)),
        (date(2025, 10, 8), date(2025, 11, 12)),
    ]:
        day = first
        while day <= last:
            for zone in rng.sample(ZONES, 3):
                midnight = local_midnight(day, zone)
                found += [midnight - timedelta(microseconds=1), midnight]
            found += [
                datetime.combine(day, time.min, tzinfo=UTC)
                + timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6))
                for _ in range(2)
            ]
            day += timedelta(days=1)
    return found


@pytest.fixture
def history(db):
    """Three owners' runs over the windows, with a client list each and two mailings each."""
    rng = random.Random(13)
    owners = [make_user(email=f"owner{n}@example.com") for n in range(3)]
    mailings = {}
    for owner in owners:
        clients = make_clients(owner=owner, count=6)
        mailings[owner.pk] = [
            make_mailing(owner=owner, clients=clients, subject=f"Mailing {n}") for n in range(2)
        ]
    for moment in moments(rng):
        owner = rng.choice(owners)
        record_run(
            rng.choice(mailings[owner.pk]),
            {
                f"client{n}@example.com": (rng.choice(OUTCOMES), "250 OK")
                for n in rng.sample(range(6), rng.randint(1, 6))
            },
            at=moment,
            # Now and then a run stopped on request, which no figure counts.
            status="stopped" if rng.random() < 0.1 else None,
        )
    return owners


def assert_tally_is_the_ledger(owners: list[User]) -> None:
    for owner in owners:
        for now in NOWS:
            for zone in ZONES:
                assert tallied(user=owner, now=now, zone=zone) == counted(
                    user=owner, now=now, zone=zone
                ), (owner.email, now, zone)


def test_the_days_tallied_are_the_days_counted_in_every_zone_and_on_daylight_saving_days(
    history,
):
    assert_tally_is_the_ledger(history)
    # The history is varied enough to mean something: letters of both kinds in every window.
    assert all(
        sum(a for _, a, _ in counted(user=o, now=n, zone="UTC")[1:]) > 0
        and sum(f for _, _, f in counted(user=o, now=n, zone="UTC")[1:]) > 0
        and all(counted(user=o, now=n, zone="UTC")[0])
        for o in history
        for n in NOWS
    )


def test_deleting_a_mailing_a_run_a_line_a_client_or_a_user_keeps_the_days_equal(history):
    anna, boris, vera = history
    user_client = HttpClient()
    user_client.force_login(anna)
    admin = HttpClient()
    admin.force_login(make_superuser())
    before = counted(user=anna, now=NOWS[2], zone="UTC")

    # Anna deletes a mailing (and its runs and ledger) and a client (the ledger keeps it).
    mailing = Mailing.objects.filter(owner=anna).first()
    assert user_client.post(f"/mailings/{mailing.pk}/delete/").status_code == 302
    client = Client.objects.filter(owner=anna).first()
    assert user_client.post(f"/clients/{client.pk}/delete/").status_code == 302
    # The admin deletes one of Boris's runs, then two ledger lines (one, then a selection).
    run = Attempt.objects.filter(mailing__owner=boris, failed_count__gt=0).first()
    assert admin.post(f"/admin/core/attempt/{run.pk}/delete/", {"post": "yes"}).status_code == 302
    lines = list(
        Delivery.objects.filter(owner=boris, status__in=[ACCEPTED, FAILED]).values_list(
            "pk", flat=True
        )[:3]
    )
    assert (
        admin.post(f"/admin/core/delivery/{lines[0]}/delete/", {"post": "yes"}).status_code == 302
    )
    selection = {"action": "delete_selected", "_selected_action": lines[1:], "post": "yes"}
    assert admin.post("/admin/core/delivery/", selection).status_code == 302
    # And Vera is deleted altogether in the admin (which refuses it while she has mailings:
    # their messages are protected), after deleting her mailings herself.
    vera_client = HttpClient()
    vera_client.force_login(vera)
    for pk in Mailing.objects.filter(owner=vera).values_list("pk", flat=True):
        assert vera_client.post(f"/mailings/{pk}/delete/").status_code == 302
    assert SendingTally.objects.filter(owner_id=vera.pk).exists()
    assert admin.post(f"/admin/core/user/{vera.pk}/delete/", {"post": "yes"}).status_code == 302

    assert not Mailing.objects.filter(pk=mailing.pk).exists()
    assert not Attempt.objects.filter(pk=run.pk).exists()
    assert not Delivery.objects.filter(pk__in=lines).exists()
    assert not User.objects.filter(pk=vera.pk).exists()
    assert not SendingTally.objects.filter(owner_id=vera.pk).exists()
    # The figures changed (deleted letters are no longer counted), and are still the ledger's.
    assert counted(user=anna, now=NOWS[2], zone="UTC") != before
    assert_tally_is_the_ledger([anna, boris])


def test_the_admin_shows_the_ledger_but_does_not_edit_it(history):
    admin = HttpClient()
    admin.force_login(make_superuser())
    line = Delivery.objects.filter(status=ACCEPTED).first()

    assert admin.get(f"/admin/core/delivery/{line.pk}/change/").status_code == 200
    admin.post(f"/admin/core/delivery/{line.pk}/change/", {"status": FAILED})
    assert admin.get("/admin/core/delivery/add/").status_code == 403
    assert Delivery.objects.get(pk=line.pk).status == ACCEPTED


def test_a_zone_whose_midnight_is_no_quarter_hour_is_counted_from_the_ledger(user):
    # Liberia kept -0:44:30 until 1972: its midnights fall mid-quarter, where no bucket ends.
    zone, now = "Africa/Monrovia", datetime(1971, 6, 1, 12, 0, tzinfo=UTC)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    midnight = local_midnight(date(1971, 5, 20), zone)
    for at in (midnight - timedelta(microseconds=1), midnight):
        record_run(
            mailing,
            {"client0@example.com": (ACCEPTED, "250 OK"), "client1@example.com": (FAILED, "550")},
            at=at,
        )

    days = tallied(user=user, now=now, zone=zone)
    assert days == counted(user=user, now=now, zone=zone)
    assert [(d, a, f) for d, a, f in days[1:] if a or f] == [
        (date(1971, 5, 19), 1, 1),
        (date(1971, 5, 20), 1, 1),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_migration_tallies_the_history_already_in_the_ledger(history):
    expected = {
        owner.pk: counted(user=owner, now=NOWS[1], zone="Asia/Kathmandu") for owner in history
    }
    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0019_import_resume")])
    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0020_sending_tally")])

    for owner in history:
        assert tallied(user=owner, now=NOWS[1], zone="Asia/Kathmandu") == expected[owner.pk]
    assert_tally_is_the_ledger(history)
