"""The sender profile: a name, a reply-to address and a From address at an allowed domain."""

import pytest
from django.urls import reverse

from core.models import User

pytestmark = pytest.mark.django_db

URL = "/profile/sender/"


@pytest.fixture(autouse=True)
def _sender_settings(settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "Mailing service <noreply@mail.example.com>"
    settings.EMAIL_ALLOWED_FROM_DOMAINS = ["shop.example.com", "müller.de"]


def test_the_page_is_named_and_reached_from_the_user_menu(user_client):
    assert reverse("sender-profile") == URL

    home = user_client.get(reverse("home")).text

    menu = home[home.index('data-testid="current-user"') :]
    assert f'href="{URL}"' in home[home.index("<nav") : home.index("</nav>")]
    assert "Sender profile" in menu[: menu.index("</li>\n            </ul>")]


def test_saving_the_profile_redirects_with_a_message(user_client, user):
    data = {
        "sender_name": "Anna's Shop",
        "reply_to": " Help@Shop.example.com ",
        "from_email": "news@shop.example.com",
    }

    response = user_client.post(URL, data, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "Sender profile saved." in response.text
    user.refresh_from_db()
    assert (user.sender_name, user.reply_to, user.from_email) == (
        "Anna's Shop",
        "help@shop.example.com",
        "news@shop.example.com",
    )


def test_every_field_may_stay_empty(user_client, user):
    response = user_client.post(URL, {"sender_name": "", "reply_to": "", "from_email": ""})

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.sender_name, user.reply_to, user.from_email) == ("", "", "")


def test_a_from_address_at_another_domain_is_refused_naming_the_allowed_ones(user_client, user):
    response = user_client.post(
        URL, {"sender_name": "Anna", "reply_to": "", "from_email": "anna@gmail.com"}
    )

    assert response.status_code == 200
    assert "Letters can go from an address at shop.example.com, müller.de only." in response.text
    user.refresh_from_db()
    assert user.from_email == "" and user.sender_name == ""


def test_a_subdomain_of_an_allowed_domain_is_not_allowed(user_client):
    response = user_client.post(URL, {"from_email": "anna@eu.shop.example.com"})

    assert response.status_code == 200
    assert "Letters can go from an address at" in response.text


def test_an_internationalised_allowed_domain_is_accepted_in_either_spelling(user_client, user):
    assert user_client.post(URL, {"from_email": "anna@xn--mller-kva.de"}).status_code == 302
    assert user_client.post(URL, {"from_email": "anna@MÜLLER.de"}).status_code == 302


def test_without_allowed_domains_the_error_says_letters_go_from_the_default(user_client, settings):
    settings.EMAIL_ALLOWED_FROM_DOMAINS = []

    page = user_client.get(URL).text
    response = user_client.post(URL, {"from_email": "anna@shop.example.com"})

    assert "This server sends every letter from noreply@mail.example.com" in page
    assert response.status_code == 200
    assert "This server sends letters from noreply@mail.example.com only" in response.text


@pytest.mark.parametrize("name", ["Anna\nBcc: x@evil.example", "Anna\rShop", "Anna\x85Shop"])
def test_a_sender_name_with_a_line_break_is_refused(user_client, user, name):
    response = user_client.post(URL, {"sender_name": name})

    assert response.status_code == 200
    assert "Keep this on one line." in response.text
    assert User.objects.get(pk=user.pk).sender_name == ""


def test_the_profile_changes_the_signed_in_user_only(user_client, user, other_user):
    user_client.post(URL, {"sender_name": "Anna's Shop"})

    other_user.refresh_from_db()
    assert other_user.sender_name == ""


def test_the_page_shows_how_from_and_reply_to_read_at_the_default_address(user_client, user):
    user.sender_name = "Anna's Shop"
    user.save()

    html = user_client.get(URL).text

    identity = html[html.index('data-testid="sender-identity"') :]
    assert "Anna&#x27;s Shop &lt;noreply@mail.example.com&gt;" in identity
    # From the service's address, replies go to the user's own.
    assert 'data-testid="identity-reply-to">anna@example.com<' in identity


def test_the_page_shows_the_users_own_from_address_once_saved(user_client, user):
    user_client.post(
        URL,
        {
            "sender_name": "Shop",
            "reply_to": "help@shop.example.com",
            "from_email": "news@shop.example.com",
        },
    )

    html = user_client.get(URL).text

    assert 'data-testid="identity-from">Shop &lt;news@shop.example.com&gt;<' in html
    assert 'data-testid="identity-reply-to">help@shop.example.com<' in html


def test_a_refused_submit_still_shows_the_saved_identity(user_client, user):
    html = user_client.post(URL, {"sender_name": "Evil", "from_email": "x@gmail.com"}).text

    assert 'data-testid="identity-from">Anna &lt;noreply@mail.example.com&gt;<' in html
