"""The dashboard's figures, chart, next runs and runs table, per user and at any volume."""

import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core import selectors
from core.models import Attempt, Delivery, Mailing
from tests.factories import (
    ACCEPTED,
    FAILED,
    PENDING,
    SKIPPED,
    make_client,
    make_mailing,
    record_run,
)

pytestmark = pytest.mark.django_db


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>\s*([^<]*?)\s*<', html)
    assert match, f"no element with data-testid={testid}"
    return match.group(1)


@pytest.fixture
def scripted_runs(user, other_user):
    """Anna's history: three mailings, three runs (a success, a failure, one in progress).

    Boris has his own mailing and runs, which must never show up in Anna's figures.
    """
    now = timezone.now()
    ann, bob, cid = (
        make_client(owner=user, email=f"{name}@example.com", full_name=name)
        for name in ("ann", "bob", "cid")
    )
    weekly = make_mailing(
        owner=user,
        subject="Weekly news",
        status=Mailing.Status.RUNNING,
        next_run_at=now + timedelta(days=1),
        clients=[ann, bob, cid],
    )
    make_mailing(owner=user, subject="Old offer", status=Mailing.Status.FINISHED, next_run_at=None)
    make_mailing(
        owner=user,
        subject="Spring sale",
        status=Mailing.Status.CREATED,
        next_run_at=now + timedelta(hours=2),
    )
    two_days_ago = now - timedelta(days=2)
    record_run(
        weekly,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "bob@example.com": (ACCEPTED, "250 OK"),
            "cid@example.com": (FAILED, "550 No such user"),
        },
        at=two_days_ago,
    )
    record_run(
        weekly,
        {
            "ann@example.com": (FAILED, "421 Try again later"),
            "bob@example.com": (FAILED, "550 No such user"),
            "cid@example.com": (FAILED, "550 No such user"),
        },
        at=now - timedelta(minutes=30),
        server_response="Every recipient was refused",
    )
    record_run(
        weekly,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "bob@example.com": (PENDING, ""),
            "cid@example.com": (PENDING, ""),
        },
        at=now - timedelta(minutes=1),
    )

    theirs = make_mailing(
        owner=other_user, subject="Boris news", next_run_at=now + timedelta(minutes=5)
    )
    record_run(
        theirs,
        {f"r{i}@example.com": (ACCEPTED if i < 5 else FAILED, "") for i in range(7)},
        at=now - timedelta(minutes=2),
    )
    return {"weekly": weekly, "theirs": theirs, "two_days_ago": two_days_ago, "now": now}


def test_every_figure_counts_the_users_own_runs_only(user, scripted_runs):
    figures = selectors.dashboard_figures(user=user, now=scripted_runs["now"])

    assert figures == selectors.DashboardFigures(
        mailings_total=3,
        mailings_running=1,
        mailings_finished=1,
        clients=3,
        messages=3,
        deliveries_accepted=3,
        deliveries_failed=4,
        deliveries_pending=2,
        attempts_success=1,
        attempts_failure=1,
        attempts_running=1,
        days=selectors.delivery_window(user=user, now=scripted_runs["now"]).days,
    )


def test_the_dashboard_shows_the_figures(user_client, scripted_runs):
    html = user_client.get(reverse("home")).content.decode()

    assert text_of(html, "mailing-count") == "3"
    assert text_of(html, "client-count") == "3"
    assert text_of(html, "message-count") == "3"
    assert text_of(html, "deliveries-accepted") == "3"
    assert text_of(html, "deliveries-failed") == "4"
    assert text_of(html, "attempts-success") == "1"
    assert text_of(html, "attempts-failure") == "1"
    assert "1 running, 1 finished" in html
    assert "2 letters waiting" in html
    assert "1 run in progress" in html
    assert 'data-testid="empty-dashboard"' not in html
    assert "Boris news" not in html


def test_a_user_without_mailings_sees_zeros_and_the_empty_dashboard(user_client, other_user):
    theirs = make_mailing(owner=other_user)
    record_run(theirs, {"r@example.com": (ACCEPTED, "")}, at=timezone.now())

    html = user_client.get(reverse("home")).content.decode()

    for testid in ("mailing-count", "client-count", "deliveries-accepted", "attempts-success"):
        assert text_of(html, testid) == "0", testid
    assert 'data-testid="empty-dashboard"' in html
    assert "No runs yet." in html
    assert "No runs are scheduled." in html


def test_deliveries_per_day_count_accepted_and_failed_by_local_day(user, scripted_runs):
    now = scripted_runs["now"]
    days = selectors.delivery_window(user=user, now=now).days

    assert len(days) == 30
    assert days[-1].day == timezone.localdate(now)
    assert days[0].day == timezone.localdate(now) - timedelta(days=29)
    by_day = {d.day: (d.accepted, d.failed) for d in days if d.accepted or d.failed}
    expected: dict = {}
    for moment, accepted, failed in (
        (scripted_runs["two_days_ago"], 2, 1),
        (now - timedelta(minutes=30), 0, 3),
        (now - timedelta(minutes=1), 1, 0),
    ):
        day = timezone.localdate(moment)
        before = expected.get(day, (0, 0))
        expected[day] = (before[0] + accepted, before[1] + failed)
    assert by_day == expected


def test_a_day_is_cut_at_local_midnight_not_utc(user, settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9
    mailing = make_mailing(owner=user)
    tokyo = timezone.get_current_timezone()
    now = timezone.datetime(2026, 3, 10, 12, 0, tzinfo=tokyo)
    # 00:30 on the 10th in Tokyo is still the 9th in UTC; 23:30 on the 9th is the 9th in both.
    record_run(
        mailing,
        {"a@example.com": (ACCEPTED, "")},
        at=timezone.datetime(2026, 3, 10, 0, 30, tzinfo=tokyo),
    )
    record_run(
        mailing,
        {"b@example.com": (FAILED, "")},
        at=timezone.datetime(2026, 3, 9, 23, 30, tzinfo=tokyo),
    )

    days = {
        d.day.isoformat(): (d.accepted, d.failed)
        for d in selectors.delivery_window(user=user, now=now).days
    }

    assert days["2026-03-10"] == (1, 0)
    assert days["2026-03-09"] == (0, 1)


def test_letters_and_runs_older_than_30_days_are_not_counted(user):
    mailing = make_mailing(owner=user)
    now = timezone.now()
    record_run(mailing, {"a@example.com": (ACCEPTED, "")}, at=now - timedelta(days=31))
    record_run(mailing, {"a@example.com": (FAILED, "")}, at=now - timedelta(days=40))

    figures = selectors.dashboard_figures(user=user, now=now)

    assert sum(d.accepted + d.failed for d in figures.days) == 0
    assert (figures.deliveries_accepted, figures.deliveries_failed) == (0, 0)
    assert (figures.attempts_success, figures.attempts_failure) == (0, 0)


def test_the_chart_figures_are_on_the_page_as_data_and_as_a_table(user_client, scripted_runs):
    html = user_client.get(reverse("home")).content.decode()

    assert 'id="delivery-chart-data"' in html
    assert 'data-testid="delivery-chart-table"' in html
    table = html.split('data-testid="delivery-chart-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 31  # a header row and one per day


def test_next_scheduled_runs_come_soonest_first_and_skip_finished_mailings(user, scripted_runs):
    upcoming = [m.message.subject for m in selectors.mailing_next_runs(user=user)]

    assert upcoming == ["Spring sale", "Weekly news"]


def add_history(mailing: Mailing, *, runs: int, recipients: int) -> None:
    """`runs` past runs of `mailing`, each to `recipients` people, half accepted, half failed."""
    now = timezone.now()
    for index in range(runs):
        outcomes = {
            f"r{n}@example.com": (ACCEPTED if n % 2 else FAILED, "250 OK" if n % 2 else "550 No")
            for n in range(recipients)
        }
        record_run(mailing, outcomes, at=now - timedelta(hours=index * 7))


@pytest.mark.parametrize(
    "url", ["/", "/?status=success&sort=-attempted_at&page=2", "/?date_from=2020-01-01"]
)
def test_the_number_of_queries_does_not_grow_with_the_history(
    user, user_client, django_assert_num_queries, url
):
    mailings = [make_mailing(owner=user, subject=f"M{i}") for i in range(3)]
    add_history(mailings[0], runs=12, recipients=2)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert user_client.get(url).status_code == 200

    for mailing in mailings:
        add_history(mailing, runs=40, recipients=25)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert user_client.get(url).status_code == 200


# Session and user, then: mailings, letters per day and waiting and runs by status (one
# statement), clients and messages (one), the next runs, one page of runs (its keys, then its
# rows: the paginator never counts), the mailing filter's choices.
DASHBOARD_QUERIES = 9


def table_rows(html: str) -> list[str]:
    """The status of each run shown in the runs table, top to bottom."""
    table = html.split('id="attempt-table"', 1)[1]
    return re.findall(r'<tr[^>]*data-status="(\w+)"', table)


def test_sorting_paging_or_filtering_the_runs_returns_the_table_alone(htmx_client, scripted_runs):
    response = htmx_client.get("/?status=failure", headers={"HX-Target": "attempt-table"})
    html = response.content.decode()

    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="attempt-table"')
    assert "<html" not in html
    assert "hx-swap-oob" not in html
    assert table_rows(html) == ["failure"]
    assert "Every recipient was refused" in html


def test_the_poll_returns_every_live_part_for_an_out_of_band_swap(htmx_client, scripted_runs):
    response = htmx_client.get("/?status=running", headers={"HX-Trigger": "dashboard-poll"})
    html = response.content.decode()

    assert "<html" not in html
    for element_id in (
        "figure-mailings",
        "figure-deliveries-accepted",
        "figure-deliveries-failed",
        "figure-attempts-success",
        "figure-attempts-failure",
        "delivery-chart-figures",
        "next-runs",
        "attempt-table",
    ):
        assert re.search(rf'id="{element_id}"[^>]*hx-swap-oob="true"', html), element_id
    assert text_of(html, "deliveries-failed") == "4"
    # The poll asks with the page's query string, so the table keeps its filter.
    assert table_rows(html) == ["running"]


def test_the_runs_filter_by_mailing_status_and_local_days(user, user_client, scripted_runs):
    weekly = scripted_runs["weekly"]
    other = make_mailing(owner=user, subject="Other")
    record_run(other, {"x@example.com": (ACCEPTED, "")}, at=timezone.now())
    today = timezone.localdate(scripted_runs["now"])
    two_days_ago = timezone.localdate(scripted_runs["two_days_ago"])

    def rows(query: str) -> list[str]:
        return table_rows(user_client.get("/?" + query).content.decode())

    assert rows("") == ["success", "running", "failure", "success"]
    assert rows(f"mailing={other.pk}") == ["success"]
    assert rows(f"mailing={weekly.pk}&status=success") == ["success"]
    assert rows(f"date_from={two_days_ago}&date_to={two_days_ago}") == ["success"]
    runs_today = [
        a
        for a in Attempt.objects.filter(mailing__owner=user)
        if timezone.localdate(a.attempted_at) == today
    ]
    assert len(rows(f"date_from={today}")) == len(runs_today)
    assert rows(f"date_to={two_days_ago - timedelta(days=1)}") == []


def test_another_users_mailing_is_no_filter_choice_and_never_shows(user_client, scripted_runs):
    theirs = scripted_runs["theirs"]
    html = user_client.get(f"/?mailing={theirs.pk}").content.decode()

    assert "Boris news" not in html
    # Not a choice of hers, so the filter is ignored: her own runs, and only hers.
    assert table_rows(html) == ["running", "failure", "success"]


def test_runs_come_newest_first_ten_to_a_page_and_sort_oldest_first(user, user_client):
    mailing = make_mailing(owner=user)
    now = timezone.now()
    for index in range(12):
        record_run(
            mailing,
            {"a@example.com": (ACCEPTED if index % 3 else FAILED, "")},
            at=now - timedelta(hours=index),
            server_response=f"run {index}",
        )

    def runs(query: str) -> list[str]:
        html = user_client.get("/?" + query).content.decode().split('id="attempt-table"', 1)[1]
        return re.findall(r"run (\d+)", html)

    assert runs("") == [str(i) for i in range(10)]
    assert runs("page=2") == ["10", "11"]
    assert runs("sort=attempted_at") == [str(i) for i in range(11, 1, -1)]
    assert runs("sort=attempted_at&page=2") == ["1", "0"]


def test_skipped_recipients_count_neither_as_failed_nor_as_waiting(user, user_client):
    mailing = make_mailing(owner=user)
    now = timezone.now()
    record_run(
        mailing,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "ivan@example.com": (SKIPPED, "Unsubscribed (link)"),
            "gone@example.com": (SKIPPED, "Bounced earlier: 550 No such user"),
        },
        at=now - timedelta(minutes=5),
        status=Attempt.Status.SUCCESS,
    )

    figures = selectors.dashboard_figures(user=user, now=now)

    assert (figures.deliveries_accepted, figures.deliveries_failed) == (1, 0)
    assert figures.deliveries_pending == 0
    assert (figures.attempts_success, figures.attempts_failure) == (1, 0)
    assert sum(day.failed for day in figures.days) == 0
    html = user_client.get(reverse("home")).text
    assert text_of(html, "deliveries-failed") == "0"
    assert "0 letters waiting" in html
    # The runs table shows them in a column of their own.
    assert re.search(r">\s*Skipped\s*</th>", html)


POLL = {"HX-Trigger": "dashboard-poll"}


def test_an_unchanged_poll_answers_304_from_one_query_without_rendering(
    htmx_client, scripted_runs, django_assert_num_queries
):
    first = htmx_client.get("/?status=running", headers=POLL)
    etag = first["ETag"]
    assert first.status_code == 200
    assert "no-cache" in first["Cache-Control"]

    # The session, the user, then the one query of the dashboard's version.
    with django_assert_num_queries(3):
        again = htmx_client.get("/?status=running", headers=POLL | {"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_the_poll_etag_depends_on_the_runs_table_query(htmx_client, scripted_runs):
    running = htmx_client.get("/?status=running", headers=POLL)["ETag"]
    failed = htmx_client.get("/?status=failure", headers=POLL)["ETag"]

    assert running != failed
    assert (
        htmx_client.get("/?status=failure", headers=POLL | {"If-None-Match": running}).status_code
        == 200
    )


def test_a_new_run_a_letter_sent_or_a_new_client_changes_the_poll_etag(
    user, htmx_client, scripted_runs
):
    def etag() -> str:
        return htmx_client.get("/", headers=POLL)["ETag"]

    seen = [etag()]
    assert etag() == seen[0]

    record_run(
        scripted_runs["weekly"],
        {"new@example.com": (FAILED, "550 No such user")},
        at=timezone.now(),
    )
    seen.append(etag())
    # A letter of the run in progress goes out: only the ledger and its run's counters change.
    pending = Delivery.objects.filter(owner=user, status=Delivery.Status.PENDING).first()
    Delivery.objects.filter(pk=pending.pk).update(
        status=Delivery.Status.ACCEPTED, sent_at=timezone.now() + timedelta(seconds=1)
    )
    seen.append(etag())
    Attempt.objects.filter(pk=pending.attempt_id).update(
        accepted_count=F("accepted_count") + 1, pending_count=F("pending_count") - 1
    )
    seen.append(etag())
    make_client(owner=user, email="zed@example.com")
    seen.append(etag())

    assert len(set(seen)) == len(seen)
