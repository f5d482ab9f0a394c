"""The client list's bulk actions open in the shared modal and leave it whole."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_clients

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_bulk_action_fills_the_modal_and_the_modal_still_opens_forms_after(signed_in_page, user):
    make_clients(owner=user, count=2)
    page = signed_in_page
    page.goto("/clients/")
    page.locator("tbody input[type=checkbox][name=pk]").first.check()

    page.get_by_role("button", name="Tag…", exact=True).click()
    # The answer goes inside the modal's content box (its white card), never in its place.
    confirm = page.locator("#modal .modal-dialog > #modal-content > form")
    expect(confirm).to_have_attribute("data-testid", "client-bulk-confirm")
    expect(confirm.get_by_text("1 client is selected.")).to_be_visible()
    confirm.get_by_role("link", name="Cancel").click()
    expect(page.locator("#modal")).to_be_hidden()

    page.get_by_role("link", name="New client").click()
    expect(page.locator("#modal-content [data-testid=client-form]")).to_be_visible()
