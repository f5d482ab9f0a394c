"""An empty list, page or section says what to do next, not just that there is nothing."""

import re

import pytest
from django.urls import reverse

from tests.factories import make_client, make_mailing, make_message

pytestmark = pytest.mark.django_db


def empty_state(html: str) -> str:
    (found,) = re.findall(r'data-testid="empty-state">(.*?)</div>\s*</section>', html, re.S)
    return found


@pytest.mark.parametrize(
    ("noun", "first_step"),
    [
        ("client", "Add your first client"),
        ("message", "Write your first message"),
        ("mailing", "Create your first mailing"),
    ],
)
def test_an_empty_list_offers_the_first_step(user_client, htmx_client, noun, first_step):
    for http in (user_client, htmx_client):
        html = http.get(reverse(f"{noun}-list")).text

        state = empty_state(html)
        create_url = reverse(f"{noun}-create")
        assert first_step in state
        assert f'href="{create_url}" hx-get="{create_url}"' in state


def test_the_empty_client_list_also_offers_an_import(user_client):
    state = empty_state(user_client.get(reverse("client-list")).text)

    assert f'href="{reverse("import-create")}"' in state
    assert "Import from CSV or Excel" in state


def test_a_filter_that_lets_nothing_through_offers_to_reset_it(user_client, user):
    make_client(owner=user, email="ann@example.com")

    state = empty_state(user_client.get(reverse("client-list"), {"q": "nobody"}).text)

    assert "Nothing matches this filter." in state
    assert f'href="{reverse("client-list")}"' in state
    assert "Add your first client" not in state


def test_a_sorted_or_paged_empty_list_is_not_called_filtered(user_client):
    state = empty_state(user_client.get(reverse("client-list"), {"sort": "email"}).text)

    assert "Add your first client" in state


def test_the_empty_import_list_offers_an_import(user_client):
    html = user_client.get(reverse("import-list")).text

    (cell,) = re.findall(r'data-testid="empty-state">(.*?)</td>', html, re.S)
    assert f'href="{reverse("import-create")}"' in cell


def test_a_mailing_without_runs_says_when_its_first_goes_out_and_how_to_send_now(user_client, user):
    mailing = make_mailing(owner=user)

    html = user_client.get(reverse("mailing-detail", args=[mailing.pk])).text

    (section,) = re.findall(r'data-testid="no-attempts">(.*?)</p>', html, re.S)
    assert "The first run starts at" in section
    assert "Send now" in section


def test_the_empty_dashboard_links_the_three_first_steps(user_client, user):
    make_message(owner=user)  # no mailing yet: still empty

    html = user_client.get(reverse("home")).text

    (block,) = re.findall(r'data-testid="empty-dashboard">(.*?)</div>\s*</div>', html, re.S)
    for name in ("client-list", "message-list", "mailing-list"):
        assert f'href="{reverse(name)}"' in block
