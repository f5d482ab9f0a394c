"""The recipient's unsubscribe link: a GET asks, a POST (button or one-click) unsubscribes."""

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from core.models import Client
from core.services import suppression


@pytest.fixture
def recipient(user) -> Client:
    return Client.objects.create(owner=user, email="ivan@example.com", full_name="Ivan Petrov")


@pytest.fixture
def browser_client() -> HttpClient:
    """A visitor with no session, whose POSTs are checked for CSRF like a real browser's."""
    return HttpClient(enforce_csrf_checks=True)


def link(client: Client) -> str:
    token = suppression.unsubscribe_token(client_id=client.pk)
    return reverse("unsubscribe", kwargs={"token": token})


def test_the_link_is_absolute_on_the_site_url(recipient, settings):
    settings.SITE_URL = "https://mail.example.com/"

    url = suppression.unsubscribe_url(client_id=recipient.pk)

    assert url == "https://mail.example.com" + link(recipient)


def test_a_get_only_asks_and_never_unsubscribes(browser_client, recipient):
    for _ in range(3):  # a link scanner, a preview, the person
        response = browser_client.get(link(recipient))
        assert response.status_code == 200
        assert "Stop letters from Anna to ivan@example.com?" in response.content.decode()

    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None
    assert response["Cache-Control"] == "no-store"


def test_the_button_unsubscribes_without_a_csrf_token_and_can_be_undone(browser_client, recipient):
    response = browser_client.post(link(recipient))

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None
    assert recipient.unsubscribe_source == Client.UnsubscribeSource.LINK

    response = browser_client.post(link(recipient), {"action": "resubscribe"})

    assert "You are subscribed again" in response.content.decode()
    recipient.refresh_from_db()
    assert (recipient.unsubscribed_at, recipient.unsubscribe_source) == (None, "")


def test_one_click_post_unsubscribes_once_and_keeps_the_first_time(browser_client, recipient):
    body = "List-Unsubscribe=One-Click"
    kind = "application/x-www-form-urlencoded"

    first = browser_client.post(link(recipient), body, content_type=kind)
    recipient.refresh_from_db()
    when = recipient.unsubscribed_at
    again = browser_client.post(link(recipient), body, content_type=kind)

    assert (first.status_code, again.status_code) == (200, 200)
    recipient.refresh_from_db()
    assert recipient.unsubscribe_source == Client.UnsubscribeSource.ONE_CLICK
    assert recipient.unsubscribed_at == when is not None


@pytest.mark.parametrize(
    "token",
    ["1", "1:forged", "abc:def", "%00", "1:" + "a" * 500, "-1:x"],
)
def test_a_forged_or_mangled_token_is_not_found(browser_client, recipient, token):
    url = reverse("unsubscribe", kwargs={"token": token})

    assert browser_client.get(url).status_code == 404
    assert browser_client.post(url).status_code == 404
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None


def test_the_token_of_a_deleted_client_is_not_found(browser_client, recipient):
    url = link(recipient)
    recipient.delete()

    assert browser_client.get(url).status_code == 404


def test_the_page_speaks_the_recipients_language(recipient):
    russian = HttpClient(headers={"Accept-Language": "ru"}).get(link(recipient))
    english = HttpClient(headers={"Accept-Language": "en"}).get(link(recipient))

    assert re.search(r"<html lang=\"ru\"[ >]", russian.content.decode())
    assert re.search(r"<html lang=\"en\"[ >]", english.content.decode())
