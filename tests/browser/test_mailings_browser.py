"""Mailings in a real browser: the modal form with the searchable client picker, and the lists."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.models import Mailing
from tests.factories import make_client, make_clients, make_mailing, make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORMAT = "%Y-%m-%dT%H:%M"


def rows(page):
    return page.locator("#mailing-table tbody tr")


def in_days(days: int) -> str:
    return timezone.localtime(timezone.now() + timedelta(days=days)).strftime(FORMAT)


def test_create_with_a_client_found_by_search_then_edit_and_delete(signed_in_page, user):
    make_message(owner=user, subject="Spring sale", body="Everything -20%")
    make_clients(owner=user, count=2000, email="c{n:04}@example.com", full_name="Person {n}")
    make_client(owner=user, email="zoe@example.com", full_name="Zoe Last")
    page = signed_in_page
    page.goto("/mailings/")
    modal = page.locator("#modal")

    page.get_by_role("link", name="New mailing").click()
    # Shown: the first field has the cursor (a search typed earlier would be lost on the
    # dialog's own focus).
    expect(modal.get_by_label("Name")).to_be_focused()
    modal.get_by_label("Name").fill("Spring campaign")
    modal.get_by_label("Message").select_option(label="Spring sale")
    # Zoe is not among the options the page rendered: the picker finds her on the server.
    picker = modal.locator("#id_clients-ts-control")
    picker.fill("zoe")
    modal.locator(".ts-dropdown .option", has_text="zoe@example.com").click()
    expect(modal.locator(".ts-control .item")).to_have_count(1)
    modal.get_by_label("First send").fill(in_days(2))
    modal.get_by_label("End", exact=True).fill(in_days(1))
    modal.get_by_role("button", name="Save").click()
    expect(modal.locator("#field-end_at")).to_contain_text("The end must be after the first send.")
    modal.get_by_label("End", exact=True).fill(in_days(9))
    modal.get_by_role("button", name="Save").click()

    expect(modal).to_be_hidden()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Spring campaign")
    expect(rows(page).first).to_contain_text("Created")
    mailing = Mailing.objects.get(owner=user)
    assert list(mailing.clients.values_list("email", flat=True)) == ["zoe@example.com"]

    rows(page).first.get_by_role("link", name="Edit").click()
    expect(modal.get_by_label("Name")).to_be_focused()
    expect(modal.locator(".ts-control .item")).to_contain_text("zoe@example.com")
    modal.locator("#id_clients-ts-control").fill("c0007")
    modal.locator(".ts-dropdown .option", has_text="c0007@example.com").click()
    modal.get_by_label("Periodicity").select_option(label="Once a week")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(rows(page).first).to_contain_text("Once a week")
    expect(rows(page).first).to_contain_text("2")  # recipients

    page.get_by_role("link", name="Spring campaign").click()
    expect(page.get_by_test_id("recipient-count")).to_have_text("2")
    expect(page.get_by_test_id("no-attempts")).to_be_visible()
    page.get_by_role("link", name="Delete").click()
    modal.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/mailings/$"))
    expect(page.get_by_text("No mailings yet.")).to_be_visible()


def test_filter_sort_page_and_an_edit_in_the_modal_keeps_them(signed_in_page, user):
    message = make_message(owner=user, subject="News", body="b")
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    now = timezone.now()
    for i in range(34):
        make_mailing(
            owner=user,
            message=message,
            clients=[client],
            status=Mailing.Status.RUNNING if i < 30 else Mailing.Status.CREATED,
            start_at=now + timedelta(days=i + 1),
            end_at=now + timedelta(days=60),
        )
    page = signed_in_page
    modal = page.locator("#modal")
    page.goto("/mailings/")
    expect(rows(page)).to_have_count(25)

    page.get_by_label("Status").select_option(label="Running")
    expect(page).to_have_url(re.compile(r"status=running"))
    page.get_by_role("link", name="First send").click()
    expect(page).to_have_url(re.compile(r"sort=start_at"))  # was newest first, now oldest
    page.get_by_role("link", name="next", exact=True).click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(5)
    assert "status=running" in page.url and "sort=start_at" in page.url

    rows(page).first.get_by_role("link", name="Edit").click()
    expect(modal.get_by_label("Name")).to_be_focused()
    modal.get_by_label("Periodicity").select_option(label="Once a month")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(rows(page).first).to_contain_text("Once a month")
    expect(rows(page)).to_have_count(5)
    expect(page.locator(".pagination .active")).to_have_text("2")
    expect(page.get_by_label("Status")).to_have_value("running")

    page.get_by_role("link", name="Reset").click()
    expect(rows(page)).to_have_count(25)


def test_the_client_picker_speaks_the_interface_language_when_nothing_is_found(
    signed_in_page, user
):
    make_message(owner=user, subject="Spring sale", body="Everything -20%")
    page = signed_in_page
    page.goto("/mailings/")
    modal = page.locator("#modal")

    page.get_by_role("link", name="New mailing").click()
    expect(modal.locator("#id_clients-ts-control")).to_be_visible()

    # Tom Select's built-in "No results found" and "Loading…" are the page's translated words.
    rendered = modal.locator("#id_clients").evaluate(
        "select => ['no_results', 'loading'].map("
        "(name) => select.tomselect.render(name, {input: 'x'}).textContent)"
    )
    assert rendered == ["No clients found", "Searching…"]


def test_the_new_mailing_form_starts_filled_and_names_the_zone(signed_in_page, user):
    make_message(owner=user, subject="Spring sale", body="Everything -20%")
    page = signed_in_page
    page.goto("/mailings/")
    modal = page.locator("#modal")

    page.get_by_role("link", name="New mailing").click()

    expect(modal.get_by_label("First send")).not_to_have_value("")
    expect(modal.get_by_label("End", exact=True)).not_to_have_value("")
    expect(modal.locator("#field-start_at")).to_contain_text("Europe/Moscow")
