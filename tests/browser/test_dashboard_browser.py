"""The dashboard refreshes itself in a real browser: figures, chart and runs table, no reload."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.models import Mailing
from tests.factories import ACCEPTED, FAILED, make_client, make_mailing, record_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def weekly(user):
    clients = [
        make_client(owner=user, email=f"{name}@example.com", full_name=name)
        for name in ("ann", "bob", "cid")
    ]
    return make_mailing(
        owner=user,
        subject="Weekly news",
        clients=clients,
        status=Mailing.Status.RUNNING,
        next_run_at=None,
    )


def send_in_the_background(mailing, *, failed: int = 1, minutes_ago: int = 0):
    """What the sending engine leaves behind after a run: an attempt and its ledger."""
    emails = ["ann@example.com", "bob@example.com", "cid@example.com"]
    outcomes = {
        email: (FAILED, "550 No such user") if index < failed else (ACCEPTED, "250 OK")
        for index, email in enumerate(emails)
    }
    return record_run(
        mailing,
        outcomes,
        at=timezone.now() - timedelta(minutes=minutes_ago),
        server_response=f"run of {minutes_ago} minutes ago",
    )


def mark_the_page(page) -> None:
    """A marker that a reload or a navigation would wipe out, and probes on two figures."""
    page.evaluate(
        """() => {
            window.__samePage = true;
            window.__chart = window.mailingService.deliveryChart();
            document.getElementById('figure-clients').dataset.probe = 'kept';
            document.getElementById('figure-deliveries-accepted').dataset.probe = 'kept';
        }"""
    )


def count_polls(page) -> None:
    """Count in the page each request of the dashboard's poller (window.__polls)."""
    page.evaluate(
        """() => {
            window.__polls = 0;
            document.body.addEventListener('htmx:beforeRequest', (event) => {
                if (event.detail.elt.id === 'dashboard-poll') window.__polls += 1;
            });
        }"""
    )


def assert_same_page(page) -> None:
    assert page.evaluate("window.__samePage") is True
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_a_mailing_sent_in_the_background_changes_the_figures_without_a_reload(
    signed_in_page, weekly
):
    page = signed_in_page
    page.goto("/")
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("0")
    expect(page.locator("#delivery-chart")).to_have_attribute("data-drawn", "true")
    mark_the_page(page)

    send_in_the_background(weekly, failed=1)

    # Nothing in this tab asked for it: the poll brings the new figures within seconds.
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("2", timeout=12_000)
    expect(page.get_by_test_id("deliveries-failed")).to_have_text("1")
    expect(page.get_by_test_id("attempts-success")).to_have_text("1")
    expect(page.locator("#attempt-table tbody tr")).to_have_count(1)
    assert_same_page(page)
    # The chart was fed the new figures in place, not drawn again.
    assert page.evaluate("window.mailingService.deliveryChart() === window.__chart")
    today = page.evaluate(
        "window.mailingService.deliveryChart().data.datasets.map((d) => d.data.at(-1))"
    )
    assert today == [2, 1]
    # A figure that changed was swapped; one that did not was left alone.
    assert page.evaluate("document.getElementById('figure-clients').dataset.probe") == "kept"
    assert (
        page.evaluate("document.getElementById('figure-deliveries-accepted').dataset.probe") is None
    )
    # The accessible table carries the same figures as the chart.
    last_row = page.get_by_test_id("delivery-chart-table").locator("tbody tr").last
    expect(last_row.locator("td")).to_have_text(["2", "1"])


def test_a_send_finishing_in_this_browser_refreshes_at_once(signed_in_page, weekly):
    page = signed_in_page
    page.goto("/")
    expect(page.get_by_test_id("attempts-failure")).to_have_text("0")
    mark_the_page(page)
    polls = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.url)
            if request.headers.get("hx-trigger") == "dashboard-poll"
            else None
        ),
    )

    page.evaluate(
        """() => {
            window.__refreshedBy = [];
            const poller = document.getElementById('dashboard-poll');
            poller.addEventListener('htmx:afterRequest', (event) => {
                window.__refreshedBy.push(event.detail.requestConfig.triggeringEvent.type);
            });
        }"""
    )

    send_in_the_background(weekly, failed=3)
    # The "Send now" response names this event in HX-Trigger; htmx fires it on <body>.
    page.evaluate("document.body.dispatchEvent(new CustomEvent('mailingSent'))")

    # At once: by a request of its own, not by the next 5-second poll (which may come
    # first on a slow machine, and then brings the same figures).
    page.wait_for_function("window.__refreshedBy.includes('mailingSent')")
    expect(page.get_by_test_id("attempts-failure")).to_have_text("1")
    expect(page.get_by_test_id("deliveries-failed")).to_have_text("3")
    assert polls, "the refresh went through the poller"
    assert_same_page(page)


def test_the_refresh_keeps_the_runs_tables_filter_and_sort(signed_in_page, weekly):
    page = signed_in_page
    send_in_the_background(weekly, failed=3, minutes_ago=30)
    send_in_the_background(weekly, failed=0, minutes_ago=20)
    page.goto("/")
    expect(page.locator("#attempt-table tbody tr")).to_have_count(2)
    mark_the_page(page)

    page.get_by_label("Status").select_option(label="Failure")
    expect(page.locator("#attempt-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/\?status=failure$"))
    page.get_by_role("link", name="When").click()  # oldest first
    expect(page).to_have_url(re.compile(r"sort=attempted_at"))

    send_in_the_background(weekly, failed=3, minutes_ago=10)
    send_in_the_background(weekly, failed=0, minutes_ago=5)
    page.evaluate("document.body.dispatchEvent(new CustomEvent('mailingSent'))")

    expect(page.get_by_test_id("attempts-failure")).to_have_text("2")
    rows = page.locator("#attempt-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-status", "failure")
    expect(rows.last).to_have_attribute("data-status", "failure")
    assert page.get_by_label("Status").input_value() == "failure"
    # Oldest first still.
    expect(rows.first).to_contain_text("run of 30 minutes ago")
    expect(rows.last).to_contain_text("run of 10 minutes ago")
    assert_same_page(page)


def test_a_hidden_tab_does_not_poll_and_refreshes_when_shown_again(signed_in_page, weekly):
    page = signed_in_page
    # The poll's timers run when the test says so. (A fake clock also fakes `performance`,
    # so only this test, which never asks it about navigations, installs one.)
    page.clock.install()
    page.goto("/")
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("0")
    # From here time moves only when the test runs it: the 5-second poll cannot fire while
    # a slow machine answers the refresh that the tab's becoming visible asked for.
    page.clock.pause_at(page.evaluate("Date.now()") + 1_000)
    count_polls(page)
    page.evaluate(
        """() => {
            window.__visibility = 'hidden';
            Object.defineProperty(document, 'visibilityState', {get: () => window.__visibility});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    send_in_the_background(weekly, failed=0)

    page.clock.run_for(6_000)  # longer than the poll's period; its timers fired meanwhile
    assert page.evaluate("window.__polls") == 0
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("0")

    page.evaluate(
        """() => {
            window.__visibility = 'visible';
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("3")
    assert page.evaluate("window.__polls") == 1


def test_a_mailing_in_the_runs_table_opens_its_page(signed_in_page, weekly):
    page = signed_in_page
    send_in_the_background(weekly, failed=1)
    page.goto("/")

    page.locator("#attempt-table tbody").get_by_role("link", name="Weekly news").click()

    expect(page).to_have_url(re.compile(rf"/mailings/{weekly.pk}/$"))
    expect(page).to_have_title(re.compile("Weekly news"))
    expect(page.get_by_test_id("mailing-details")).to_be_visible()


def test_a_poll_keeps_the_runs_tables_page(signed_in_page, weekly):
    page = signed_in_page
    for minutes_ago in range(12):
        send_in_the_background(weekly, failed=0, minutes_ago=minutes_ago + 1)
    page.goto("/")
    page.get_by_role("link", name="2", exact=True).click()
    expect(page.locator("#attempt-table tbody tr")).to_have_count(2)

    with page.expect_request(lambda r: r.headers.get("hx-trigger") == "dashboard-poll") as poll:
        page.evaluate("document.body.dispatchEvent(new CustomEvent('mailingSent'))")

    assert "page=2" in poll.value.url
    expect(page.locator("#attempt-table tbody tr")).to_have_count(2)


def test_the_dashboard_says_when_it_last_refreshed_and_when_a_refresh_failed(signed_in_page):
    page = signed_in_page
    page.goto("/")
    status = page.get_by_test_id("dashboard-status")
    expect(status).to_contain_text("Updated at")

    # The server stops answering: the next poll fails, and the page says so.
    page.route(re.compile(r"/(\?.*)?$"), lambda route: route.fulfill(status=502, body=""))
    page.evaluate("htmx.trigger('#dashboard-poll', 'dashboardPoll')")
    expect(status).to_contain_text("Could not refresh")

    page.unroute(re.compile(r"/(\?.*)?$"))
    page.evaluate("htmx.trigger('#dashboard-poll', 'dashboardPoll')")
    expect(status).to_contain_text("Updated at")
