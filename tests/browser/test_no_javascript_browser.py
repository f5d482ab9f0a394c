"""The service with JavaScript off, on a 390 px phone: the menu, forms as pages of their own,
the messages after a post, and a client picker whose help says what holds without scripts."""

import pytest
from playwright.sync_api import expect

from core.forms import ClientPicker
from tests.factories import make_clients, make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def no_js_page(open_tab, user):
    """A signed-in tab on a phone with JavaScript off (and the site's CSP in force)."""
    return open_tab(user=user, viewport=PHONE, java_script_enabled=False)


def test_the_menu_is_reachable_on_a_phone_without_javascript(no_js_page):
    page = no_js_page
    page.goto("/")

    menu = page.get_by_role("navigation")
    expect(menu.get_by_role("link", name="Clients")).to_be_visible()
    menu.get_by_role("link", name="Mailings").click()

    expect(page.get_by_role("heading", name="Mailings", level=1)).to_be_visible()


def test_a_standalone_form_has_padding_and_its_success_message_shows(no_js_page):
    page = no_js_page
    page.goto("/clients/new/")
    form = page.get_by_test_id("client-form")
    email = form.get_by_label("Email")

    card, field = form.bounding_box(), email.bounding_box()
    assert field["x"] - card["x"] >= 12
    assert (card["x"] + card["width"]) - (field["x"] + field["width"]) >= 12
    email.fill("new@example.com")
    form.get_by_label("Full name").fill("New Client")
    form.get_by_role("button", name="Save").click()

    message = page.get_by_test_id("page-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("new@example.com")


def test_the_client_picker_help_says_what_holds_without_javascript(no_js_page, user):
    make_message(owner=user)
    make_clients(owner=user, count=3)
    page = no_js_page
    help_text = page.locator("#id_clients_helptext")

    page.goto("/mailings/new/")
    expect(help_text).to_have_text("Hold Ctrl (⌘ on a Mac) to choose several clients.")
    expect(page.get_by_label("Clients").locator("option")).to_have_count(3)

    make_clients(owner=user, count=ClientPicker.PRELOADED, email="more{n:02}@example.com")
    page.goto("/mailings/new/")
    expect(help_text).to_contain_text(f"Only the first {ClientPicker.PRELOADED} clients")
    expect(help_text).not_to_contain_text("Type to search")


def test_with_javascript_the_client_picker_help_says_type_to_search(signed_in_page, user):
    make_message(owner=user)
    make_clients(owner=user, count=ClientPicker.PRELOADED + 1)
    page = signed_in_page

    page.goto("/mailings/new/")

    expect(page.locator("#id_clients_helptext")).to_have_text(
        "Type to search your clients by email, name or comment."
    )
