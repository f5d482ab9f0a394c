"""Watching a mailing go out in a real browser, sent by the real engine to a real SMTP server."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from core.models import Periodicity
from tests.factories import make_client, make_mailing
from tests.sending.conftest import mailers_for
from tests.sending.processes import sender_environment
from tests.smtp_servers import FaultySmtpServer, SmtpSink
from tests.tasks import start_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def weekly(user):
    clients = [
        make_client(owner=user, email=f"{name}@example.com", full_name=name.title())
        for name in ("ann", "bob", "cid")
    ]
    tomorrow = timezone.now() + timedelta(days=1)
    return make_mailing(
        owner=user,
        subject="Новости недели",
        body="Здравствуйте!",
        clients=clients,
        start_at=tomorrow,
        end_at=tomorrow + timedelta(days=59),
        periodicity=Periodicity.WEEKLY,
    )


def test_send_now_shows_the_run_going_out_on_the_mailing_page(signed_in_page, weekly):
    page = signed_in_page
    with SmtpSink(delay=0.2) as sink:
        # The worker is a separate process: it reads the mail server from its environment.
        worker = start_worker(env=sender_environment(sink))
        page.goto(f"/mailings/{weekly.pk}/")
        expect(page.get_by_test_id("no-attempts")).to_be_visible()
        page.evaluate("window.__samePage = true")

        page.get_by_test_id("send-now").click()
        # It asks first, in the modal, saying when the mailing last went out.
        modal = page.locator("#modal-content")
        expect(modal.get_by_test_id("last-sent")).to_have_text("It has not gone out yet.")
        modal.get_by_role("button", name="Send now").click()

        expect(page.locator(".toast-body")).to_contain_text("Sending to 3 recipients.")
        attempt = page.get_by_test_id("attempt").first
        expect(attempt).to_contain_text("Success", timeout=20_000)
        expect(attempt.locator("td").nth(2)).to_have_text("3")  # accepted
        # The run's end refreshed the details and the report too, still without a reload.
        expect(page.get_by_test_id("status")).to_have_text("Running")
        expect(page.get_by_test_id("mailing-report")).to_contain_text("3")
        assert page.evaluate("window.__samePage") is True
        worker.terminate()
        assert worker.wait(timeout=30) == 0

    assert sorted(r for m in sink.messages for r in m.recipients) == [
        "ann@example.com",
        "bob@example.com",
        "cid@example.com",
    ]


def test_the_dashboard_counts_a_run_of_the_engine_without_a_reload(
    signed_in_page, weekly, settings
):
    page = signed_in_page
    page.clock.install()  # the poll's 5 s pass when the test says so
    page.goto("/")
    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("0")
    page.evaluate("window.__samePage = true")

    with FaultySmtpServer() as server:
        server.configure(reject_recipients={"bob@example.com"})
        settings.MAILERS = mailers_for(server)
        call_command("send_mailings", "--mailing", str(weekly.pk))
    page.clock.run_for(5_000)

    expect(page.get_by_test_id("deliveries-accepted")).to_have_text("2")
    expect(page.get_by_test_id("deliveries-failed")).to_have_text("1")
    expect(page.get_by_test_id("attempts-failure")).to_have_text("1")
    assert page.evaluate("window.__samePage") is True
