"""Throttling: failed sign-ins lock an account and a client address out for a while (django-axes);
account letters are limited per address and hour, with pages that answer as usual."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.core import mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core.models import AccountLetter
from tests.factories import PASSWORD, make_user
from tests.tasks import tasks_run

CSRF_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


@pytest.fixture(autouse=True)
def _limits(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.ACCOUNT_LETTERS_PER_HOUR = 3


def sign_in(client, email: str = "anna@example.com", password: str = PASSWORD, address=None):
    extra = {"REMOTE_ADDR": address} if address else {}
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


def fail(client, times: int, **kwargs) -> None:
    for _ in range(times):
        assert sign_in(client, password="wrong password", **kwargs).status_code == 200


@pytest.mark.django_db
def test_failures_lock_the_account_and_even_the_right_password_is_refused(client, user):
    fail(client, 2)
    assert sign_in(client, password="wrong password").status_code == 429

    response = sign_in(client)

    assert response.status_code == 429
    content = response.content.decode()
    assert "Too many failed sign-ins" in content
    assert "Try again in 15 minutes." in content
    assert 'href="/accounts/password_reset/"' in content  # in the site's layout, with its links
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_the_account_is_locked_from_every_address_and_spelling(client, user):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        sign_in(client, email=" ANNA@example.com", password="wrong", address=address)

    assert sign_in(client, address="10.0.0.4").status_code == 429


@pytest.mark.django_db
def test_the_client_address_is_locked_for_every_account(client, user, other_user):
    for n in range(3):
        sign_in(client, email=f"guess{n}@example.com", password="wrong", address="10.0.0.9")

    assert sign_in(client, email=other_user.email, address="10.0.0.9").status_code == 429
    assert sign_in(client, email=other_user.email, address="10.0.0.10").status_code == 302


@pytest.mark.django_db
def test_the_lock_is_released_after_the_cool_off(client, user, settings):
    fail(client, 2)
    sign_in(client, password="wrong password")
    assert sign_in(client).status_code == 429

    # Move the failures back past the cool-off instead of waiting it out.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)

    assert sign_in(client).status_code == 302


@pytest.mark.django_db
def test_an_operator_can_release_a_lock(client, user):
    fail(client, 2)
    assert sign_in(client, password="wrong password").status_code == 429

    reset(username="anna@example.com")
    reset(ip="127.0.0.1")

    assert sign_in(client).status_code == 302


@pytest.mark.django_db
def test_a_success_forgets_the_earlier_failures(client, user):
    fail(client, 2)
    assert sign_in(client).status_code == 302
    client.post(reverse("logout"))

    fail(client, 2)

    assert sign_in(client).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_account_letters_stop_at_the_hourly_limit_and_the_page_does_not_tell(client):
    make_user(email="anna@example.com")
    answers = []
    for _ in range(5):
        answers.append(
            client.post(reverse("password_reset"), {"email": "anna@example.com"}, follow=True)
        )
        tasks_run()

    assert len(mail.outbox) == 3
    pages = {CSRF_TOKEN.sub(rb"\1", a.content) for a in answers}
    assert len(pages) == 1
    assert [a.redirect_chain for a in answers].count(answers[0].redirect_chain) == 5


@pytest.mark.django_db(transaction=True)
def test_the_limit_counts_every_kind_of_letter_per_address(client):
    make_user(email="anna@example.com")
    make_user(email="boris@example.com")
    AccountLetter.objects.bulk_create(
        AccountLetter(email="anna@example.com", kind=AccountLetter.Kind.VERIFICATION)
        for _ in range(3)
    )

    client.post(
        reverse("signup"),
        {"email": "anna@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    for email in ("anna@example.com", "boris@example.com"):
        client.post(reverse("password_reset"), {"email": email})
    tasks_run()

    assert [letter.to for letter in mail.outbox] == [["boris@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_letters_older_than_an_hour_no_longer_count(client):
    make_user(email="anna@example.com")
    AccountLetter.objects.bulk_create(
        AccountLetter(
            email="anna@example.com",
            kind=AccountLetter.Kind.PASSWORD_RESET,
            sent_at=timezone.now() - timedelta(minutes=61),
        )
        for _ in range(3)
    )

    client.post(reverse("password_reset"), {"email": "anna@example.com"})
    tasks_run()

    assert len(mail.outbox) == 1
