"""Accounts: sign up with an email, sign in and out, reset a forgotten password by email."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from core.models import User
from tests.factories import PASSWORD
from tests.tasks import tasks_run


@pytest.mark.django_db
def test_sign_up_creates_an_inactive_account_and_asks_to_check_the_inbox(client):
    response = client.post(
        reverse("signup"),
        {
            "email": " New.User@Example.com ",
            "full_name": "New",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("check-inbox")
    user = User.objects.get()
    assert user.email == "new.user@example.com"
    assert (user.is_active, user.email_verified_at) == (False, None)
    # Not signed in until the address is verified (tests/test_signup_verification.py).
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_sign_up_with_a_taken_email_creates_nothing_and_answers_as_usual(client, user):
    response = client.post(
        reverse("signup"),
        {"email": "ANNA@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    # The page no longer says that the account exists: the owner is told by letter instead.
    assert response.status_code == 302
    assert response.url == reverse("check-inbox")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_sign_in_with_email_and_sign_out(client, user):
    response = client.post(reverse("login"), {"username": "anna@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200

    client.post(reverse("logout"))

    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_password_reset_sends_a_link_that_sets_a_new_password(client, user):
    client.post(reverse("password_reset"), {"email": "anna@example.com"})
    tasks_run()  # the letter goes outside the request

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    response = client.get(link, follow=True)
    new_password = "an entirely new passphrase 42"
    client.post(
        response.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )

    user.refresh_from_db()
    assert user.check_password(new_password)


@pytest.mark.django_db
def test_russian_is_the_default_language(client, settings):
    settings.LANGUAGE_CODE = "ru"

    response = client.get(reverse("login"), headers={"accept-language": ""})

    assert response.status_code == 200
    assert 'lang="ru"' in response.content.decode()


@pytest.mark.django_db
def test_the_browser_language_is_honoured(client, settings):
    settings.LANGUAGE_CODE = "ru"

    response = client.get(reverse("login"), headers={"accept-language": "en-US,en;q=0.9"})

    assert 'lang="en"' in response.content.decode()
    assert "Sign in" in response.content.decode()


@pytest.mark.django_db
def test_russian_pages_are_translated(client, settings):
    settings.LANGUAGE_CODE = "ru"

    response = client.get(reverse("login"), headers={"accept-language": "ru"})

    assert "Войти" in response.content.decode()
