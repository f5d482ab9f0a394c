"""What every page has around its content: the favicon browsers ask for, the skip link, and
toasts that never pile up."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_favicon_ico_leads_to_the_icon_for_anyone(page):
    # Browsers ask /favicon.ico on their own, signed in or not (this tab is not).
    response = page.request.get("/favicon.ico")

    assert response.status == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.url.endswith(".svg")


def test_the_first_tab_reaches_a_visible_skip_link_to_the_content(signed_in_page):
    page = signed_in_page
    page.goto("/clients/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box["width"] > 40 and box["height"] > 20  # shown, not a 1 px visually hidden box
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")
    # The next stop is inside the content, past the menu.
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_five_messages_at_once_leave_at_most_three_toasts(signed_in_page):
    page = signed_in_page
    page.goto("/clients/")
    toasts = page.locator("#toasts .toast")

    # As an htmx answer's HX-Trigger hands them over (core/middleware.py).
    page.evaluate(
        """htmx.trigger(document.body, "showMessage", {
            value: [1, 2, 3, 4, 5].map((n) => ({ text: `Message ${n}`, level: "success" })),
        })"""
    )

    expect(toasts).to_have_count(3)
    expect(toasts.last).to_contain_text("Message 5")
    expect(toasts.first).to_contain_text("Message 3")
