"""Clients who unsubscribed or bounced: badges in the list, a filter, and the client's page."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from core.models import Client

pytestmark = pytest.mark.django_db

WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def clients(user) -> dict[str, Client]:
    return {
        "active": Client.objects.create(owner=user, email="ann@example.com", full_name="Ann"),
        "unsubscribed": Client.objects.create(
            owner=user,
            email="ivan@example.com",
            full_name="Ivan",
            unsubscribed_at=WHEN,
            unsubscribe_source=Client.UnsubscribeSource.ONE_CLICK,
        ),
        "bounced": Client.objects.create(
            owner=user,
            email="gone@example.com",
            full_name="Gone",
            bounced_at=WHEN,
            bounce_reply="550 5.1.1 <gone@example.com>: user unknown",
        ),
    }


def row_of(html: str, email: str) -> str:
    start = html.index(email)
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_the_list_marks_unsubscribed_and_bounced_clients_with_a_badge(user_client, clients):
    html = user_client.get(reverse("client-list")).text

    assert "badge" not in row_of(html, "ann@example.com")
    unsubscribed = row_of(html, "ivan@example.com")
    assert 'data-state="unsubscribed"' in unsubscribed and ">Unsubscribed</span>" in unsubscribed
    assert "One-click unsubscribe" in unsubscribed  # on hover: how
    bounced = row_of(html, "gone@example.com")
    assert 'data-state="bounced"' in bounced and ">Bounced</span>" in bounced
    # On hover: the server's reply, escaped like any text from outside.
    assert 'title="550 5.1.1 &lt;gone@example.com&gt;: user unknown"' in bounced


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("", {"ann", "ivan", "gone"}),
        ("active", {"ann"}),
        ("unsubscribed", {"ivan"}),
        ("bounced", {"gone"}),
    ],
)
def test_the_filter_bar_filters_on_the_state(htmx_client, clients, state, shown):
    html = htmx_client.get(reverse("client-list"), {"state": state}).text

    assert {name for name in ("ann", "ivan", "gone") if f"{name}@example.com" in html} == shown


def test_the_filter_bar_offers_every_state(user_client, clients):
    html = user_client.get(reverse("client-list")).text

    for value, label in [("", "All"), ("active", "Active"), ("unsubscribed", "Unsubscribed")]:
        assert f'<option value="{value}"' in html and f">{label}</option>" in html


def test_an_unknown_state_is_a_filter_error_not_a_crash(user_client, clients):
    response = user_client.get(reverse("client-list"), {"state": "deleted"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.text


def test_the_page_of_an_unsubscribed_client_says_when_and_how_and_offers_no_way_back(
    user_client, clients
):
    client = clients["unsubscribed"]

    html = user_client.get(reverse("client-detail", args=[client.pk])).text

    assert 'data-state="unsubscribed"' in html
    assert "One-click unsubscribe" in html
    assert "Only the recipient can subscribe again, from the link in any letter." in html
    assert "resubscribe" not in html.lower() and "Subscribe again" not in html


def test_the_page_of_a_bounced_client_shows_the_servers_reply(user_client, clients):
    client = clients["bounced"]

    html = user_client.get(reverse("client-detail", args=[client.pk])).text

    assert 'data-state="bounced"' in html
    assert "550 5.1.1 &lt;gone@example.com&gt;: user unknown" in html
    assert "Editing the email clears the mark" in html


def test_the_page_of_an_active_client_says_it_receives_letters(user_client, clients):
    html = user_client.get(reverse("client-detail", args=[clients["active"].pk])).text

    assert 'data-state="active"' in html
    assert "Only the recipient can subscribe again" not in html


def test_the_edit_form_of_a_bounced_client_says_a_new_email_clears_the_mark(htmx_client, clients):
    bounced = htmx_client.get(reverse("client-update", args=[clients["bounced"].pk])).text
    active = htmx_client.get(reverse("client-update", args=[clients["active"].pk])).text

    assert "saving another one clears the mark" in bounced
    assert "clears the mark" not in active


def test_the_client_form_has_no_field_to_resubscribe(htmx_client, clients):
    client = clients["unsubscribed"]
    data = {"email": client.email, "full_name": "Ivan", "comment": "", "unsubscribed_at": ""}

    response = htmx_client.post(reverse("client-update", args=[client.pk]), data)

    assert response.status_code == 204
    client.refresh_from_db()
    assert client.unsubscribed_at == WHEN


@pytest.mark.parametrize("name", ["Ivan\nBcc: x@evil.example", "Ivan\rPetrov", "Ivan\u2028Petrov"])
def test_a_full_name_with_a_line_break_is_refused(htmx_client, user, name):
    response = htmx_client.post(
        reverse("client-create"), {"email": "ivan@example.com", "full_name": name}
    )

    assert response.status_code == 200
    assert "Keep this on one line." in response.text
    assert not Client.objects.filter(owner=user).exists()


def test_editing_a_bounced_clients_email_clears_the_bounce_on_its_page(user_client, clients):
    client = clients["bounced"]
    url = reverse("client-update", args=[client.pk])

    user_client.post(url, {"email": "gone@example.com", "full_name": "Gone Again"})
    client.refresh_from_db()
    assert client.bounced_at == WHEN  # the same address: still bounced

    response = user_client.post(url, {"email": "back@example.com", "full_name": "Gone"})

    assert response.status_code == 302
    html = user_client.get(reverse("client-detail", args=[client.pk])).text
    assert 'data-state="active"' in html and 'data-state="bounced"' not in html
    listing = user_client.get(reverse("client-list"), {"state": "bounced"}).text
    assert "back@example.com" not in listing
