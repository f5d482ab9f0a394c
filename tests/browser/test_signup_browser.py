"""A new user signs up, gets the link in a real mail server's sink, opens it and lands on the
dashboard signed in; before that, signing in is refused with a clear message. In Chromium."""

import email
import email.policy
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink
from tests.tasks import tasks_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink(settings) -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        settings.MAILERS = mailers_for(server)
        yield server


def link_in(sink: SmtpSink) -> str:
    (received,) = sink.messages
    letter = email.message_from_bytes(received.content, policy=email.policy.default)
    return re.search(r"https?://\S+", letter.get_body().get_content()).group(0)


def sign_in(page, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_up_verify_by_the_letter_see_empty_dashboard_sign_out_and_in(page, sink):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Your name").fill("Newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # Not verified yet: the right password is refused, with a way to get the link again.
    sign_in(page)
    expect(page.get_by_test_id("unverified")).to_contain_text("not verified yet")
    expect(page.get_by_role("link", name="Send the link again")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    tasks_run()
    assert sink.messages[0].recipients == ("newcomer@example.com",)
    page.goto(link_in(sink))

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("Your address is verified")
    expect(page.get_by_test_id("current-user")).to_have_text("newcomer@example.com")
    expect(page.get_by_test_id("empty-dashboard")).to_be_visible()
    expect(page.get_by_test_id("mailing-count")).to_have_text("0")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("client-count")).to_have_text("0")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_repeated_wrong_passwords_show_the_lockout_page(page, user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_test_id("lockout")).to_contain_text("Try again in 15 minutes.")
    expect(page.get_by_role("link", name="Reset the password")).to_be_visible()
