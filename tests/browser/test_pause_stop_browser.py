"""The owner's Pause, Resume and Stop buttons on a mailing's page, in a real browser."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.models import Attempt, Mailing
from core.services import sending
from tests.factories import make_clients, make_mailing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mailing(user) -> Mailing:
    tomorrow = timezone.now() + timedelta(days=1)
    return make_mailing(
        owner=user,
        subject="Weekly news",
        clients=make_clients(owner=user, count=3),
        start_at=tomorrow,
        end_at=tomorrow + timedelta(days=30),
    )


def test_send_now_then_stop_the_open_run_after_confirming(signed_in_page, mailing):
    page = signed_in_page
    page.goto(f"/mailings/{mailing.pk}/")
    expect(page.get_by_test_id("stop")).to_have_count(0)
    page.evaluate("window.__samePage = true")

    # Send now asks first; confirmed, a run opens (no sender is started in tests).
    page.get_by_test_id("send-now").click()
    modal = page.locator("#modal-content")
    modal.get_by_role("button", name="Send now").click()
    expect(page.locator(".toast-body").last).to_contain_text("Sending to 3 recipients.")
    expect(page.locator("#modal")).to_be_hidden()

    # The details refreshed with the open run: Stop, which asks too.
    page.get_by_test_id("stop").click()
    expect(modal).to_contain_text("Stop the run of")
    modal.get_by_role("button", name="Stop").click()

    expect(page.locator(".toast-body").last).to_contain_text("The run is stopping")
    expect(page.get_by_test_id("attempt").first).to_contain_text("Stopped")
    expect(page.get_by_test_id("stop")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True
    assert Attempt.objects.get(mailing=mailing).status == Attempt.Status.STOPPED


def test_pause_then_resume_on_the_page(signed_in_page, mailing):
    page = signed_in_page
    page.goto(f"/mailings/{mailing.pk}/")

    page.get_by_test_id("pause").click()

    expect(page.locator(".toast-body").last).to_contain_text("Mailing paused")
    expect(page.get_by_test_id("status")).to_contain_text("Paused")
    expect(page.get_by_test_id("send-now")).to_be_disabled()
    assert Mailing.objects.get(pk=mailing.pk).paused_at is not None

    page.get_by_test_id("resume").click()

    expect(page.locator(".toast-body").last).to_contain_text("Mailing resumed")
    expect(page.get_by_test_id("pause")).to_be_visible()
    expect(page.get_by_test_id("status")).not_to_contain_text("Paused")
    assert Mailing.objects.get(pk=mailing.pk).paused_at is None


def test_without_javascript_stop_asks_on_a_page_of_its_own(open_tab, live_server, user, mailing):
    sending.mailing_send_start(mailing=mailing)
    page = open_tab(user=user, java_script_enabled=False)

    page.goto(f"/mailings/{mailing.pk}/")
    page.get_by_test_id("stop").click()
    expect(page.get_by_role("heading", name="Stop the run")).to_be_visible()
    page.get_by_role("button", name="Stop").click()

    expect(page).to_have_url(f"{live_server.url}/mailings/{mailing.pk}/")
    expect(page.get_by_test_id("attempt").first).to_contain_text("Stopped")
