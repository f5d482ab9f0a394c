"""Messages in a real browser: modal forms, filter and sort, and a delete a mailing blocks."""

import re

import pytest
from playwright.sync_api import expect

from core.models import Message
from tests.factories import make_mailing, make_message, make_messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows(page):
    return page.locator("#message-table tbody tr")


def test_create_edit_delete_in_the_modal_with_filter_and_page_kept(signed_in_page, user):
    make_messages(owner=user, count=30, subject="Promo {n:02}", body="Body")
    page = signed_in_page
    page.goto("/messages/")
    modal = page.locator("#modal")

    page.get_by_role("searchbox", name="Subject").fill("promo")
    expect(page).to_have_url(re.compile(r"q=promo"))
    page.get_by_role("link", name="Subject").click()
    expect(rows(page).first).to_contain_text("Promo 00")
    page.get_by_role("link", name="next").click()
    expect(rows(page)).to_have_count(5)
    # Each parameter on its own, in whatever order the links put them.
    expect(page).to_have_url(
        re.compile(r"^(?=.*[?&]q=promo(&|$))(?=.*[?&]sort=subject(&|$))(?=.*[?&]page=2(&|$))")
    )

    page.get_by_role("link", name="New message").click()
    modal.get_by_label("Subject").fill("Promo 99")
    modal.get_by_role("button", name="Save").click()
    expect(modal.locator("#field-body")).to_contain_text("This field is required.")
    modal.get_by_label("Body").fill("Last chance")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(rows(page)).to_have_count(6)
    expect(rows(page).last).to_contain_text("Promo 99")
    expect(page.locator(".pagination .active")).to_have_text("2")

    rows(page).last.get_by_role("link", name="Edit").click()
    modal.get_by_label("Subject").fill("Promo 98")
    modal.get_by_role("button", name="Save").click()
    expect(rows(page).last).to_contain_text("Promo 98")

    rows(page).last.get_by_role("link", name="Delete").click()
    modal.get_by_role("button", name="Delete").click()
    expect(rows(page)).to_have_count(5)
    expect(page.locator("#toasts")).to_contain_text("Message “Promo 98” deleted.")


def test_deleting_a_message_a_mailing_uses_is_explained_in_the_modal(signed_in_page, user):
    message = make_message(owner=user, subject="In use", body="Body")
    make_mailing(owner=user, message=message)
    page = signed_in_page
    page.goto("/messages/")

    rows(page).first.get_by_role("link", name="Delete").click()

    modal = page.locator("#modal")
    expect(modal.get_by_test_id("message-in-use")).to_contain_text(
        "This message cannot be deleted: a mailing sends it."
    )
    expect(modal.get_by_role("button", name="Delete")).to_have_count(0)
    modal.get_by_role("link", name="Cancel").click()
    expect(modal).to_be_hidden()
    assert Message.objects.filter(pk=message.pk).exists()
