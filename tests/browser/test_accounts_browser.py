"""A new user signs up, signs in, sees the empty dashboard and signs out, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_sign_in_see_empty_dashboard_and_sign_out(page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Your name").fill("Newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_test_id("current-user")).to_have_text("newcomer@example.com")
    expect(page.get_by_test_id("empty-dashboard")).to_be_visible()
    expect(page.get_by_test_id("mailing-count")).to_have_text("0")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("client-count")).to_have_text("0")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_the_user_menu_leads_to_the_sender_profile(signed_in_page, user, settings):
    settings.EMAIL_ALLOWED_FROM_DOMAINS = ["shop.example.com"]
    page = signed_in_page
    page.goto("/")

    page.get_by_test_id("current-user").click()
    page.get_by_role("link", name="Sender profile").click()
    expect(page).to_have_url(re.compile(r"/profile/sender/$"))
    page.get_by_label("Sender name").fill("Anna's Shop")
    page.get_by_label("From address").fill("anna@elsewhere.example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-from_email")).to_contain_text(
        "Letters can go from an address at shop.example.com only."
    )

    page.get_by_label("From address").fill("news@shop.example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts")).to_contain_text("Sender profile saved.")
    user.refresh_from_db()
    assert (user.sender_name, user.from_email) == ("Anna's Shop", "news@shop.example.com")
