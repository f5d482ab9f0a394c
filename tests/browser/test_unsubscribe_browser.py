"""The recipient follows the link of a letter captured at the sink and unsubscribes; the
sender then sees it on their client list."""

import email
import email.policy
import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from core.models import Client
from tests.factories import make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_recipient_unsubscribes_from_a_letter_and_the_user_sees_the_badge(
    open_tab, signed_in_page, user, settings
):
    ivan = Client.objects.create(owner=user, email="ivan@example.com", full_name="Ivan Petrov")
    Client.objects.create(owner=user, email="vera@example.com", full_name="Vera")
    mailing = make_mailing(owner=user, clients=[ivan], next_run_at=None)
    with SmtpSink() as sink:
        settings.MAILERS = mailers_for(sink)
        call_command("send_mailings", "--mailing", str(mailing.pk), stdout=StringIO())
        (received,) = sink.messages
    letter = email.message_from_bytes(received.content, policy=email.policy.default)
    url = re.search(r"<(https?://[^>]+)>", str(letter["List-Unsubscribe"])).group(1)

    # The recipient: a browser of their own, never signed in here.
    recipient = open_tab()
    recipient.goto(urlsplit(url).path)
    expect(recipient.get_by_test_id("unsubscribe-state")).to_have_text("Unsubscribe")
    recipient.get_by_role("button", name="Unsubscribe").click()
    expect(recipient.get_by_test_id("unsubscribe-state")).to_have_text("You are unsubscribed")

    page = signed_in_page
    page.goto("/clients/")
    row = page.locator("#client-table tbody tr", has_text="ivan@example.com")
    expect(row.locator('[data-state="unsubscribed"]')).to_have_text("Unsubscribed")
    other = page.locator("#client-table tbody tr", has_text="vera@example.com")
    expect(other.locator(".badge")).to_have_count(0)

    page.get_by_label("State").select_option("unsubscribed")
    expect(page.locator("#client-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"state=unsubscribed"))
