"""Clients in a real browser: the modal forms, the table refreshing in place, the blur check."""

import re

import pytest
from playwright.sync_api import expect

from core.models import Client
from tests.factories import make_client, make_clients

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def thirty_clients(user) -> None:
    make_clients(owner=user, count=30, email="client{n:02}@example.com", full_name="Person {n:02}")


def rows(page):
    return page.locator("#client-table tbody tr")


def test_filter_sort_and_page_swap_only_the_table_and_push_the_url(signed_in_page, thirty_clients):
    page = signed_in_page
    page.goto("/clients/")
    search = page.get_by_role("searchbox", name="Search")
    search.fill("person 1")

    expect(page).to_have_url(re.compile(r"q=person(\+|%20)1"))
    expect(rows(page)).to_have_count(10)
    # The filter input was not replaced while typing: it still has the focus and the text.
    expect(search).to_be_focused()
    expect(search).to_have_value("person 1")

    page.get_by_role("link", name="Email").click()
    expect(page).to_have_url(re.compile(r"sort=-email"))
    expect(rows(page).first).to_contain_text("client19@example.com")
    expect(page).to_have_url(re.compile(r"q=person(\+|%20)1"))

    search.fill("")
    expect(rows(page)).to_have_count(25)
    expect(rows(page).first).to_contain_text("client29@example.com")  # the sort survived
    page.get_by_role("link", name="2", exact=True).click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(5)
    expect(rows(page).first).to_contain_text("client04@example.com")

    page.go_back()
    expect(rows(page)).to_have_count(25)
    page.reload()
    expect(rows(page).first).to_contain_text("client29@example.com")

    # A client's email in a row is a plain link to the client's page, not a table swap.
    rows(page).first.get_by_role("link", name="client29@example.com").click()
    expect(page).to_have_title(re.compile("Person 29"))
    expect(page.get_by_test_id("email")).to_have_text("client29@example.com")


def test_create_edit_delete_in_the_modal_keep_filter_and_page(signed_in_page, user, thirty_clients):
    page = signed_in_page
    page.goto("/clients/?q=example&page=2")
    expect(rows(page)).to_have_count(5)
    modal = page.locator("#modal")

    # Create: the modal closes, a toast shows, and page 2 of the filtered list gains a row.
    page.get_by_role("link", name="New client").click()
    expect(modal).to_be_visible()
    modal.get_by_label("Email").fill("zed@example.com")
    modal.get_by_label("Full name").fill("Zed")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Client zed@example.com saved.")
    expect(rows(page)).to_have_count(6)
    expect(rows(page).last).to_contain_text("zed@example.com")
    expect(page).to_have_url(re.compile(r"/clients/\?q=example&page=2$"))

    # An invalid submit shows the errors in the modal, next to the field.
    rows(page).last.get_by_role("link", name="Edit").click()
    expect(modal.get_by_label("Email")).to_have_value("zed@example.com")
    modal.get_by_label("Full name").fill("")
    modal.get_by_role("button", name="Save").click()
    expect(modal.locator("#field-full_name")).to_contain_text("This field is required.")
    modal.get_by_label("Full name").fill("Zed Zedson")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(rows(page).last).to_contain_text("Zed Zedson")
    expect(page.locator(".pagination .active")).to_have_text("2")

    # Delete asks in the modal first.
    rows(page).last.get_by_role("link", name="Delete").click()
    expect(modal).to_contain_text("Delete the client Zed Zedson")
    modal.get_by_role("button", name="Delete").click()
    expect(modal).to_be_hidden()
    expect(rows(page)).to_have_count(5)
    expect(page.locator(".pagination .active")).to_have_text("2")
    assert not Client.objects.filter(owner=user, email="zed@example.com").exists()


def test_duplicate_email_is_reported_when_the_field_is_left(signed_in_page, user):
    make_client(owner=user, email="anna.smith@example.com", full_name="Anna")
    page = signed_in_page
    page.goto("/clients/")
    page.get_by_role("link", name="New client").click()
    modal = page.locator("#modal")
    email = modal.get_by_label("Email")
    errors = modal.locator("#client-email-errors")
    # Typing starts once the dialog has opened and put the cursor in its first field: until
    # then its opening could move the focus (see the test below).
    expect(email).to_be_focused()

    email.fill("  Anna.Smith@EXAMPLE.com ")
    email.press("Tab")
    expect(errors).to_have_text("This email is already in your clients.")
    expect(email).to_have_class(re.compile(r"\bis-invalid\b"))
    # The input was never replaced: it still holds what was typed, not the server's normal form
    # (an email input itself hides the surrounding spaces from its value).
    expect(email).to_have_value(re.compile(r"^\s*Anna\.Smith@EXAMPLE\.com\s*$"))

    email.fill("anna.new@example.com")
    email.press("Tab")
    expect(errors).to_have_text("")
    expect(email).not_to_have_class(re.compile(r"\bis-invalid\b"))

    email.fill("Anna.Smith@example.com")
    modal.get_by_label("Full name").fill("Anna again")
    modal.get_by_role("button", name="Save").click()
    expect(errors).to_have_text("This email is already in your clients.")
    assert Client.objects.filter(owner=user).count() == 1


def test_a_field_entered_while_the_modal_opens_keeps_the_cursor(signed_in_page):
    page = signed_in_page
    page.goto("/clients/")
    # The user clicks into "Full name" as soon as the dialog appears, while it still fades in.
    page.evaluate(
        """() => {
            const modal = document.getElementById('modal');
            const appeared = new MutationObserver(() => {
                if (modal.style.display !== 'block') return;
                appeared.disconnect();
                document.getElementById('id_full_name').focus();
                window.__enteredWhileOpening = document.activeElement.id;
            });
            appeared.observe(modal, {attributes: true, attributeFilter: ['style']});
            document.getElementById('modal').addEventListener('shown.bs.modal', () => {
                window.__shown = true;
            }, {once: true});
        }"""
    )

    page.get_by_role("link", name="New client").click()
    page.wait_for_function("window.__shown === true")

    # The probe really entered the field before the dialog finished opening...
    assert page.evaluate("window.__enteredWhileOpening") == "id_full_name"
    # ...and the page's own shown handler, which ran before the probe's, left the cursor there.
    assert page.evaluate("document.activeElement.id") == "id_full_name"


def test_editing_a_client_on_its_page_and_deleting_it_from_there(signed_in_page, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    page = signed_in_page
    page.goto(f"/clients/{client.pk}/")
    modal = page.locator("#modal")

    page.get_by_role("link", name="Edit").click()
    modal.get_by_label("Email").press("Tab")  # its own email is no duplicate
    expect(modal.locator("#client-email-errors")).to_have_text("")
    modal.get_by_label("Full name").fill("Anna Smith")
    modal.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("full-name")).to_have_text("Anna Smith")

    page.get_by_role("link", name="Delete").click()
    modal.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/clients/$"))
    expect(page.locator("#toasts")).to_contain_text("Client anna@example.com deleted.")


# Ends the dialog's fade-in as the browser's transitionend would.
END_THE_FADE = (
    "document.querySelector('#modal .modal-dialog').dispatchEvent(new Event('transitionend'))"
)


def hold_the_dialogs_fade(page) -> None:
    """Make the modal's fade-in last a minute, so that the test acts while the dialog still fades
    in however loaded the machine, and ends it with END_THE_FADE. Bootstrap times the fade on
    the dialog's transition. `window.__shown` becomes true once the dialog is shown."""
    page.add_style_tag(content="#modal .modal-dialog { transition-duration: 60s !important; }")
    page.evaluate(
        """() => document.getElementById('modal')
            .addEventListener('shown.bs.modal', () => { window.__shown = true; })"""
    )


def test_a_form_saved_while_the_dialog_still_fades_in_closes_it(signed_in_page, user):
    page = signed_in_page
    page.goto("/clients/")
    # A quick user (or a fast autofill) submits the moment the dialog is displayed, before
    # its 300 ms fade-in ends; Bootstrap ignores a hide() asked for during the fade. The test
    # ends the fade itself once the answer is in.
    hold_the_dialogs_fade(page)
    page.evaluate(
        """() => {
            const modal = document.getElementById('modal');
            document.body.addEventListener('htmx:beforeSwap', (event) => {
                if (event.detail.xhr.status !== 204) return;
                window.__savedBeforeShown = !window.__shown;
                setTimeout(() => { ${END}; }, 50);
            });
            const appeared = new MutationObserver(() => {
                if (modal.style.display !== 'block') return;
                appeared.disconnect();
                document.getElementById('id_email').value = 'quick@example.com';
                document.getElementById('id_full_name').value = 'Quick';
                document.querySelector('#modal-content form').requestSubmit();
            });
            appeared.observe(modal, {attributes: true, attributeFilter: ['style']});
        }""".replace("${END}", END_THE_FADE)
    )

    page.get_by_role("link", name="New client").click()

    expect(page.get_by_test_id("client-table-section")).to_contain_text("quick@example.com")
    assert page.evaluate("window.__savedBeforeShown") is True
    expect(page.locator("#modal")).to_be_hidden(timeout=5_000)
    assert Client.objects.filter(owner=user, email="quick@example.com").exists()


@pytest.mark.parametrize("how", ["Cancel", "Close", "Escape"])
def test_a_dialog_closed_while_it_still_fades_in_closes_once_shown(signed_in_page, how):
    page = signed_in_page
    page.goto("/clients/")
    # Bootstrap ignores a hide() asked for during the fade-in; a quick Cancel (or a loaded
    # machine's slow fade) must still close the dialog. The test ends the fade once the user
    # has closed.
    hold_the_dialogs_fade(page)
    modal = page.locator("#modal")

    page.get_by_role("link", name="New client").click()
    expect(modal.get_by_label("Email")).to_be_visible()
    if how == "Escape":
        page.keyboard.press("Escape")
    else:
        # Forced: the control moves with the fade, so it is never "stable" for Playwright.
        modal.get_by_role("button" if how == "Close" else "link", name=how).click(force=True)
    assert page.evaluate("window.__shown") is None
    page.evaluate(f"() => {{ {END_THE_FADE}; }}")

    expect(modal).to_be_hidden()
    assert page.evaluate("window.__shown") is True
