"""The user menu, in a real browser (signing up: test_signup_browser.py)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
