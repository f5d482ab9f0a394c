"""The shared modal with the keyboard: focus on the first field in error after a failed submit,
Esc closes it, Tab stays in it, and the focus goes back to the button that opened it."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import make_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUS_IN_MODAL = "document.getElementById('modal').contains(document.activeElement)"


def open_new_client_form(page):
    page.goto("/clients/")
    page.get_by_role("link", name="New client").click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()
    expect(modal.get_by_label("Email")).to_be_focused()
    return modal


def test_a_failed_submit_puts_the_focus_on_the_first_field_in_error(signed_in_page):
    page = signed_in_page
    modal = open_new_client_form(page)
    modal.get_by_label("Full name").fill("Anna")

    modal.get_by_role("button", name="Save").click()

    email = modal.get_by_label("Email")
    expect(modal.locator(".invalid-feedback").first).not_to_be_empty()
    expect(email).to_be_focused()
    # The same red border as the check when the field is left.
    expect(email).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(modal.get_by_label("Full name")).not_to_have_class(re.compile(r"\bis-invalid\b"))


def test_tab_stays_in_the_modal_and_esc_closes_it_after_a_failed_submit(signed_in_page):
    page = signed_in_page
    modal = open_new_client_form(page)
    modal.get_by_role("button", name="Save").click()
    expect(modal.get_by_label("Email")).to_be_focused()

    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_IN_MODAL), page.evaluate("document.activeElement.outerHTML")
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUS_IN_MODAL), page.evaluate("document.activeElement.outerHTML")

    page.keyboard.press("Escape")
    expect(modal).to_be_hidden()


def test_after_saving_the_focus_returns_to_the_button_that_opened_the_modal(signed_in_page, user):
    page = signed_in_page
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    page.goto("/clients/")
    edit = page.locator("#client-table tbody tr").first.get_by_role("link", name="Edit")
    edit.focus()
    page.keyboard.press("Enter")
    modal = page.locator("#modal")
    expect(modal).to_be_visible()

    modal.get_by_label("Full name").fill("Anna B")
    modal.get_by_role("button", name="Save").click()

    expect(modal).to_be_hidden()
    expect(page.locator("#client-table")).to_contain_text("Anna B")
    expect(page.locator(f'#client-table [hx-get="/clients/{client.pk}/edit/"]')).to_be_focused()
