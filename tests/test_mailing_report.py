"""The per-mailing report: its runs, failures explained, and the CSV of every recipient."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from core import selectors
from tests.factories import ACCEPTED, FAILED, PENDING, SKIPPED, make_mailing, record_run

pytestmark = pytest.mark.django_db


def csv_rows(response, *, delimiter: str = ",") -> list[list[str]]:
    """The rows of a CSV download, read as Excel reads it: UTF-8 after a BOM."""
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


@pytest.fixture
def mailing_with_runs(user):
    now = timezone.now()
    mailing = make_mailing(owner=user, subject="Weekly news")
    record_run(
        mailing,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "bob@example.com": (FAILED, "550 No such user"),
            "cid@example.com": (FAILED, '=HYPERLINK("http://evil")'),
        },
        at=now - timedelta(days=7),
    )
    record_run(
        mailing,
        {
            "ann@example.com": (FAILED, "421 Try again later"),
            "bob@example.com": (FAILED, "550 No such user"),
            "cid@example.com": (PENDING, ""),
        },
        at=now - timedelta(minutes=5),
        server_response="Refused",
    )
    return mailing


def test_the_report_counts_each_run_from_the_ledger(mailing_with_runs):
    report = selectors.mailing_report(mailing=mailing_with_runs)

    assert report.run_count == 2
    assert [(r.accepted, r.failed, r.pending) for r in report.runs] == [(0, 2, 1), (1, 2, 0)]
    assert (report.accepted, report.failed, report.pending) == (1, 4, 1)


def test_the_report_ranks_failure_replies_and_lists_failed_recipients(mailing_with_runs):
    report = selectors.mailing_report(mailing=mailing_with_runs)

    assert report.top_failure_replies[0] == ("550 No such user", 2)
    assert sorted(report.top_failure_replies[1:]) == [
        ("421 Try again later", 1),
        ('=HYPERLINK("http://evil")', 1),
    ]
    failed = [(d.email, d.reply) for d in report.failed_deliveries]
    assert len(failed) == 4
    assert ("ann@example.com", "421 Try again later") in failed


def test_the_report_fragment_for_htmx_and_a_page_without_it(
    user_client, htmx_client, mailing_with_runs
):
    url = reverse("mailing-report", args=[mailing_with_runs.pk])

    fragment = htmx_client.get(url).content.decode()
    page = user_client.get(url).content.decode()

    assert fragment.lstrip().startswith('<section id="mailing-report"')
    assert "<html" not in fragment
    assert "<html" in page and 'id="mailing-report"' in page
    assert 'data-testid="report-failed">4<' in fragment
    assert "550 No such user" in fragment
    assert "&quot;http://evil&quot;" in fragment  # escaped, never markup
    assert reverse("mailing-report-csv", args=[mailing_with_runs.pk]) in fragment
    # The mailing page lists the runs in its attempts section; only the report page repeats them.
    assert 'data-testid="report-run-table"' not in fragment
    assert 'data-testid="report-run-table"' in page


def test_a_mailing_that_never_ran_says_so(user, htmx_client):
    mailing = make_mailing(owner=user)

    html = htmx_client.get(reverse("mailing-report", args=[mailing.pk])).content.decode()

    assert 'data-testid="report-no-runs"' in html


def test_the_csv_lists_every_recipient_of_every_run(user_client, mailing_with_runs):
    response = user_client.get(reverse("mailing-report-csv", args=[mailing_with_runs.pk]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == [
        "Run started (Europe/Moscow)",
        "Run status",
        "Recipient",
        "Delivery status",
        "Server reply",
        "Tries",
        "Sent at (Europe/Moscow)",
    ]
    body = rows[1:]
    assert len(body) == 6
    assert [(r[2], r[3], r[4]) for r in body[:3]] == [
        ("ann@example.com", "Accepted", "250 OK"),
        ("bob@example.com", "Failed", "550 No such user"),
        # A reply that a spreadsheet would run as a formula is quoted.
        ("cid@example.com", "Failed", '\'=HYPERLINK("http://evil")'),
    ]
    assert body[5][3] == "Pending" and body[5][6] == ""
    assert {r[1] for r in body[3:]} == {"In progress"}


def test_the_csv_is_named_after_the_mailing_and_the_day_and_splits_on_semicolon_on_request(
    user, user_client
):
    user.time_zone = "Asia/Vladivostok"
    user.save(update_fields=["time_zone"])
    mailing = make_mailing(owner=user, name="Осенние скидки: 30%")
    sent = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 08:30 the next day in Vladivostok
    record_run(mailing, {"ann@example.com": (ACCEPTED, "250 OK")}, at=sent)

    response = user_client.get(
        reverse("mailing-report-csv", args=[mailing.pk]), {"delimiter": "semicolon"}
    )

    day = timezone.localdate(timezone=ZoneInfo("Asia/Vladivostok"))
    name = quote(f"осенние-скидки-30-{day:%Y-%m-%d}.csv")
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{name}"
    header, row = csv_rows(response, delimiter=";")
    assert header[0] == "Run started (Asia/Vladivostok)"
    assert row[0] == "2026-03-02 08:30:00"
    assert row[2:4] == ["ann@example.com", "Accepted"]


def test_another_users_report_and_csv_are_not_found(user_client, other_user):
    theirs = make_mailing(owner=other_user)
    record_run(theirs, {"x@example.com": (FAILED, "550")}, at=timezone.now())

    assert user_client.get(reverse("mailing-report", args=[theirs.pk])).status_code == 404
    assert user_client.get(reverse("mailing-report-csv", args=[theirs.pk])).status_code == 404


def test_the_report_needs_the_same_queries_at_any_volume(
    user, htmx_client, django_assert_num_queries
):
    mailing = make_mailing(owner=user)
    url = reverse("mailing-report", args=[mailing.pk])
    now = timezone.now()

    def add_runs(count: int, recipients: int) -> None:
        for index in range(count):
            record_run(
                mailing,
                {
                    f"r{n}@example.com": (FAILED if n % 3 else ACCEPTED, f"5{n % 4}0")
                    for n in range(recipients)
                },
                at=now - timedelta(hours=index + mailing.attempts.count() * 10),
            )

    add_runs(2, 3)
    with django_assert_num_queries(REPORT_QUERIES):
        htmx_client.get(url)
    add_runs(30, 40)
    with django_assert_num_queries(REPORT_QUERIES):
        htmx_client.get(url)


# Session, user, the mailing, then the latest runs, their counts, the totals, the run count,
# the top replies and the failed recipients.
REPORT_QUERIES = 9


def test_the_mailing_page_loads_its_report_and_reloads_it_when_a_run_finishes(
    user_client, mailing_with_runs
):
    page = user_client.get(reverse("mailing-detail", kwargs={"pk": mailing_with_runs.pk}))

    html = page.content.decode()
    report_url = reverse("mailing-report", kwargs={"pk": mailing_with_runs.pk})
    assert f'hx-get="{report_url}"' in html
    assert 'hx-trigger="load, mailingRunFinished from:body"' in html
    assert f'href="{report_url}"' in html  # without JavaScript, a link to the report page


def test_skipped_recipients_are_counted_apart_from_failed_ones(user, user_client, htmx_client):
    mailing = make_mailing(owner=user)
    now = timezone.now()
    record_run(
        mailing,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "bob@example.com": (FAILED, "550 No such user"),
            "ivan@example.com": (SKIPPED, "Unsubscribed (one-click)"),
        },
        at=now - timedelta(days=1),
    )
    record_run(
        mailing,
        {
            "ann@example.com": (ACCEPTED, "250 OK"),
            "bob@example.com": (SKIPPED, "Bounced earlier: 550 No such user"),
            "ivan@example.com": (SKIPPED, "Unsubscribed (one-click)"),
        },
        at=now,
    )

    report = selectors.mailing_report(mailing=mailing)

    runs = [(r.accepted, r.failed, r.pending, r.skipped) for r in report.runs]
    assert runs == [(1, 0, 0, 2), (1, 1, 0, 1)]
    assert (report.accepted, report.failed, report.pending, report.skipped) == (2, 1, 0, 3)
    assert [d.email for d in report.failed_deliveries] == ["bob@example.com"]
    assert report.top_failure_replies == [("550 No such user", 1)]

    fragment = htmx_client.get(reverse("mailing-report", args=[mailing.pk])).text
    assert 'data-testid="report-failed">1<' in fragment
    assert 'data-testid="report-skipped">3<' in fragment
    page = user_client.get(reverse("mailing-report", args=[mailing.pk])).text
    assert re.findall(r'data-testid="run-skipped">(\d+)<', page) == ["2", "1"]
    detail = user_client.get(reverse("mailing-detail", args=[mailing.pk])).text
    assert re.findall(r'data-testid="attempt-skipped">(\d+)<', detail) == ["2", "1"]

    response = user_client.get(reverse("mailing-report-csv", args=[mailing.pk]))
    rows = csv_rows(response)
    skipped = [(r[2], r[3], r[4], r[6]) for r in rows[1:] if r[3] == "Skipped"]
    assert sorted(skipped) == [
        ("bob@example.com", "Skipped", "Bounced earlier: 550 No such user", ""),
        ("ivan@example.com", "Skipped", "Unsubscribed (one-click)", ""),
        ("ivan@example.com", "Skipped", "Unsubscribed (one-click)", ""),
    ]
