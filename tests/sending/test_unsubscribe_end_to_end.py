"""A real run to the sink, the recipient's provider posts the one-click URL of the letter it
got, and the next run leaves the recipient out."""

import email
import email.policy
import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient

from core.models import Attempt, Client, Delivery
from tests.factories import make_clients, make_mailing

pytestmark = pytest.mark.django_db


def send_now(mailing) -> None:
    call_command("send_mailings", "--mailing", str(mailing.pk), stdout=StringIO())


def letter_to(sink, address: str) -> email.message.EmailMessage:
    (content,) = [m.content for m in sink.messages if address in m.recipients]
    return email.message_from_bytes(content, policy=email.policy.default)


def one_click_url(letter) -> str:
    """The https/http URL of the letter's List-Unsubscribe header (RFC 2369: <...> items)."""
    match = re.search(r"<(https?://[^>]+)>", str(letter["List-Unsubscribe"]))
    assert match, letter["List-Unsubscribe"]
    return match.group(1)


def test_the_one_click_url_of_a_captured_letter_unsubscribes_and_the_next_run_skips(user, sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    send_now(mailing)
    letter = letter_to(sink, "client0@example.com")
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The mailbox provider posts from its own servers: no cookie, no CSRF token of ours.
    provider = HttpClient(enforce_csrf_checks=True)
    response = provider.post(
        urlsplit(one_click_url(letter)).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    client = Client.objects.get(owner=user, email="client0@example.com")
    assert client.unsubscribed_at is not None
    assert client.unsubscribe_source == Client.UnsubscribeSource.ONE_CLICK

    sink.clear()
    send_now(mailing)

    assert [m.recipients for m in sink.messages] == [("client1@example.com",)]
    latest = Attempt.objects.filter(mailing=mailing).latest("pk")
    assert (latest.accepted_count, latest.failed_count, latest.skipped_count) == (1, 0, 1)
    skipped = Delivery.objects.get(attempt=latest, email="client0@example.com")
    assert skipped.status == Delivery.Status.SKIPPED and skipped.sent_at is None
