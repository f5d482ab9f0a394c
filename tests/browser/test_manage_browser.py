"""A manager's pages in a real browser: block a user with a reason, see it in the audit log,
disable a mailing from its page."""

import pytest
from playwright.sync_api import expect

from core.models import AuditEntry, Mailing, User
from core.services import administration
from tests.factories import make_mailing, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager_page(open_tab):
    """A browser tab signed in as Mina, a manager."""
    manager = make_user(email="mina@example.com", full_name="Mina")
    administration.managers_add(user=manager)
    return open_tab(user=manager, bypass_csp=True)


def row_of(page, email: str):
    return page.locator("#manage-user-table tbody tr", has_text=email)


def test_block_a_user_with_a_reason_and_find_it_in_the_audit_log(manager_page, user, other_user):
    page = manager_page
    page.goto("/")
    page.get_by_test_id("manage-link").click()
    modal = page.locator("#modal")

    row_of(page, "boris@example.com").get_by_role("link", name="Block").click()
    expect(modal).to_contain_text("Block boris@example.com")
    # No reason, no block: the error shows in the modal.
    modal.get_by_role("button", name="Block").click()
    expect(modal.locator("#field-reason")).to_contain_text("This field is required.")
    modal.get_by_label("Reason").fill("Sends phishing letters")
    modal.get_by_role("button", name="Block").click()

    expect(modal).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("boris@example.com is blocked.")
    # The table refreshed in place: Boris is marked blocked and can be unblocked.
    boris = row_of(page, "boris@example.com")
    expect(boris.locator('[data-state="blocked"]')).to_be_visible()
    expect(boris.get_by_role("link", name="Unblock")).to_be_visible()
    expect(row_of(page, "anna@example.com").locator('[data-state="blocked"]')).to_have_count(0)
    assert User.objects.get(pk=other_user.pk).blocked_at is not None

    page.get_by_role("link", name="Audit log").click()
    entry = page.locator("#manage-audit-table tbody tr").first
    expect(entry).to_contain_text("mina@example.com")
    expect(entry).to_contain_text("Blocked a user")
    expect(entry).to_contain_text("boris@example.com")
    expect(entry).to_contain_text("Sends phishing letters")


def test_disable_a_mailing_from_its_page(manager_page, user):
    mailing = make_mailing(owner=user, subject="Spring sale")
    page = manager_page
    page.goto("/manage/mailings/")

    page.get_by_role("link", name="Spring sale").click()
    expect(page.get_by_test_id("owner")).to_contain_text("anna@example.com")
    expect(page.get_by_test_id("mailing-report")).to_be_visible()
    page.get_by_test_id("disable").click()
    page.locator("#modal").get_by_label("Reason").fill("Misleading offer")
    page.locator("#modal").get_by_role("button", name="Disable").click()

    # The facts refresh in place: disabled, with the reason, and Enable instead of Disable.
    expect(page.get_by_test_id("disabled")).to_contain_text("Misleading offer")
    expect(page.get_by_test_id("enable")).to_be_visible()
    assert Mailing.objects.get(pk=mailing.pk).disabled_reason == "Misleading offer"
    assert AuditEntry.objects.get().action == AuditEntry.Action.DISABLE_MAILING
