"""Verified accounts: sign-up sends a single-use, expiring link; the account signs in only once
it is opened; sign-up, "send the link again" and password reset answer the same, without
waiting on the mail server, whether or not the address has an account."""

import re
import threading
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from core.models import User
from core.services.accounts import EmailVerificationTokenGenerator
from tests.factories import PASSWORD, make_user
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink
from tests.tasks import tasks_run

# Threads send the letters after the commit: their connection must see the committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

# In the forms' hidden field and in the htmx headers of <body>.
CSRF_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


def sign_up(client, email: str = "new@example.com", password: str = PASSWORD):
    response = client.post(
        reverse("signup"),
        {"email": email, "full_name": "New", "password1": password, "password2": password},
        follow=True,
    )
    tasks_run()
    return response


def link_in(letter) -> str:
    return re.search(r"https?://\S+", letter.body).group(0)


def page_bytes(response) -> bytes:
    """What a visitor sees, less the CSRF token that differs on every page."""
    chain = [(url, status) for url, status in response.redirect_chain]
    return repr(chain).encode() + CSRF_TOKEN.sub(rb"\1", response.content)


def test_sign_up_sends_a_link_that_verifies_signs_in_and_greets(client):
    response = sign_up(client)

    assert response.redirect_chain == [(reverse("check-inbox"), 302)]
    assert "Check your email" in response.content.decode()
    user = User.objects.get(email="new@example.com")
    assert (user.is_active, user.email_verified_at) == (False, None)
    (letter,) = mail.outbox
    assert letter.to == ["new@example.com"]
    assert "/accounts/verify/" in link_in(letter)

    opened = client.get(link_in(letter), follow=True)

    assert opened.redirect_chain[-1][0] == reverse("home")
    assert "Your address is verified" in opened.content.decode()
    user.refresh_from_db()
    assert user.is_active and user.email_verified_at is not None
    assert opened.context["user"] == user


def test_a_verification_link_works_once(client):
    sign_up(client)
    link = link_in(mail.outbox[0])
    client.get(link)
    client.post(reverse("logout"))

    again = client.get(link)

    assert again.status_code == 400
    assert "This link does not work any more" in again.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_a_verification_link_expires_after_the_configured_days(client, settings, monkeypatch):
    settings.ACCOUNT_VERIFICATION_DAYS = 3
    sign_up(client)
    link = link_in(mail.outbox[0])
    later = datetime.now() + timedelta(days=3, minutes=1)
    monkeypatch.setattr(EmailVerificationTokenGenerator, "_now", lambda self: later)

    response = client.get(link)

    assert response.status_code == 400
    assert User.objects.get(email="new@example.com").email_verified_at is None


@pytest.mark.parametrize(
    "path",
    ["/accounts/verify/!!!/x-y/", "/accounts/verify/Zm9v/1-2/", "/accounts/verify/MTI/zz-zz/"],
)
def test_a_forged_verification_link_is_refused_without_an_error(client, path):
    assert client.get(path).status_code == 400


def test_an_unverified_account_with_the_right_password_is_told_to_verify(client):
    sign_up(client)

    right = client.post(reverse("login"), {"username": "new@example.com", "password": PASSWORD})
    wrong = client.post(reverse("login"), {"username": "new@example.com", "password": "nope"})

    assert right.status_code == 200
    assert "not verified yet" in right.content.decode()
    assert reverse("verification-resend") in right.content.decode()
    # A wrong password reveals nothing about the account.
    assert "not verified" not in wrong.content.decode()
    assert "Wrong email or password" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_sign_up_with_a_known_address_answers_the_same_and_tells_its_owner(client):
    owner = make_user(email="anna@example.com")
    fresh = sign_up(client, email="fresh@example.com")
    mail.outbox.clear()

    known = sign_up(client, email="ANNA@example.com", password="another passphrase 42")

    assert page_bytes(known) == page_bytes(fresh)
    (letter,) = mail.outbox
    assert letter.to == ["anna@example.com"]
    assert "already has an account" in letter.body
    assert reverse("password_reset") in letter.body
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert User.objects.filter(email="anna@example.com").count() == 1


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(client):
    make_user(email="anna@example.com")

    def ask(email):
        response = client.post(reverse("password_reset"), {"email": email}, follow=True)
        tasks_run()
        return response

    known, unknown = ask("anna@example.com"), ask("nobody@example.com")

    assert page_bytes(known) == page_bytes(unknown)
    assert [letter.to for letter in mail.outbox] == [["anna@example.com"]]


def test_send_the_link_again_answers_the_same_and_sends_to_an_unverified_account_only(client):
    sign_up(client)
    make_user(email="anna@example.com")
    mail.outbox.clear()

    def resend(email):
        response = client.post(reverse("verification-resend"), {"email": email}, follow=True)
        tasks_run()
        return response

    answers = [resend(e) for e in ("new@example.com", "anna@example.com", "nobody@example.com")]

    assert page_bytes(answers[0]) == page_bytes(answers[1]) == page_bytes(answers[2])
    (letter,) = mail.outbox
    assert letter.to == ["new@example.com"]
    client.get(link_in(letter))
    assert User.objects.get(email="new@example.com").is_active


def test_the_request_does_not_wait_on_the_mail_server(client, settings):
    # The server holds back every message until released: a request that sent its letter
    # itself would have reached the server before answering (and waited out its timeout).
    release = threading.Event()
    with SmtpSink(hold=release) as sink:
        settings.MAILERS = mailers_for(sink, timeout=10)
        make_user(email="anna@example.com")
        for email in ("new@example.com", "anna@example.com"):
            response = client.post(
                reverse("signup"),
                {"email": email, "password1": PASSWORD, "password2": PASSWORD},
            )
            assert response.status_code == 302, email
            assert sink.peak_in_progress == 0, email
        response = client.post(reverse("password_reset"), {"email": "anna@example.com"})
        assert response.status_code == 302
        assert sink.peak_in_progress == 0

        release.set()
        tasks_run()

        assert sorted(m.recipients for m in sink.messages) == [
            ("anna@example.com",),
            ("anna@example.com",),
            ("new@example.com",),
        ]


def test_operator_made_accounts_are_verified(client):
    call_command("createsuperuser", email="root@example.com", interactive=False, stdout=StringIO())
    call_command("ensure_demo_user", stdout=StringIO())

    for email in ("root@example.com", "demo@example.com"):
        user = User.objects.get(email=email)
        assert user.is_active and user.email_verified_at is not None, email
