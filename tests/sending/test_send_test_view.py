"""The test send: the letter lands at the sink addressed to the user alone, counted nowhere."""

import email
import email.policy
import json

import pytest
from django.urls import reverse

from core.models import Attempt, Client, Delivery, Message
from tests.factories import make_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(user) -> Message:
    Client.objects.create(owner=user, email="ivan@example.com", full_name="Ivan Petrov")
    return Message.objects.create(
        owner=user,
        subject="Hi {{ first_name }}",
        body="Dear **{{ full_name }}**",
        format="markdown",
    )


def test_a_test_send_reaches_the_user_alone_and_counts_nowhere(htmx_client, user, message, sink):
    response = htmx_client.post(reverse("message-send-test", args=[message.pk]))

    assert response.status_code == 204
    toast = json.loads(response["HX-Trigger"])["showMessage"]
    assert toast == {"text": "Test letter sent to anna@example.com.", "level": "success"}
    (letter,) = sink.messages
    assert letter.recipients == ("anna@example.com",)
    parsed = email.message_from_bytes(letter.content, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "anna@example.com"
    assert parsed["Subject"] == "Hi Anna"
    assert not Attempt.objects.exists() and not Delivery.objects.exists()


def test_a_refused_test_send_says_why(htmx_client, message, faulty):
    faulty.configure(reject_recipients={"anna@example.com"})

    response = htmx_client.post(reverse("message-send-test", args=[message.pk]))

    toast = json.loads(response["HX-Trigger"])["showMessage"]
    assert toast["level"] == "danger"
    assert toast["text"].startswith("The test letter to anna@example.com did not go: 550")
    assert not Attempt.objects.exists()


def test_without_htmx_the_test_send_goes_back_to_the_page_it_came_from(
    user_client, user, message, sink
):
    url = reverse("message-send-test", args=[message.pk])

    back = user_client.post(url, {"next": "/mailings/"})
    elsewhere = user_client.post(url, {"next": "https://evil.example/"})

    assert (back.status_code, back.url) == (302, "/mailings/")
    assert elsewhere.url == reverse("message-detail", args=[message.pk])
    assert len(sink.messages) == 2


def test_a_test_send_needs_a_post(user_client, message):
    assert user_client.get(reverse("message-send-test", args=[message.pk])).status_code == 405


def test_the_message_page_and_the_mailing_page_offer_the_test_send(user_client, user, message):
    mailing = make_mailing(owner=user)
    url = reverse("message-send-test", args=[message.pk])

    message_page = user_client.get(reverse("message-detail", args=[message.pk])).text
    mailing_page = user_client.get(reverse("mailing-detail", args=[mailing.pk])).text

    assert f'hx-post="{url}"' in message_page and "Send test to me" in message_page
    test_url = reverse("message-send-test", args=[mailing.message_id])
    assert f'hx-post="{test_url}"' in mailing_page
    assert mailing_page.index("Send now") < mailing_page.index("Send test to me")
