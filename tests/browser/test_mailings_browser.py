"""Mailings in a real browser: the modal form with the searchable client picker, and the lists."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from core.forms import ClientPicker
from core.models import Mailing
from tests.factories import make_client, make_clients, make_mailing, make_message, make_tag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORMAT = "%Y-%m-%dT%H:%M"
SEARCH = "**/clients/search/?*"  # the client picker's requests


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


def test_the_pickers_speak_russian_and_find_a_capitalised_name_typed_in_lower_case(open_tab, user):
    make_message(owner=user, subject="Весенняя распродажа", body="Всё дешевле")
    # More clients than the form lists: Ivan is found only by the server's search.
    make_clients(
        owner=user,
        count=ClientPicker.PRELOADED + 10,
        email="a{n:04}@example.com",
        full_name="Клиент {n}",
    )
    make_client(owner=user, email="ivan@example.com", full_name="Иван Петров")
    make_tag(owner=user, name="Москва")
    page = open_tab(user=user, locale="ru-RU")  # the site's CSP in force
    page.goto("/mailings/")
    modal = page.locator("#modal")
    page.get_by_role("link", name="Новая рассылка").click()
    # Shown: the dialog has put the cursor in its first field (a search typed before would be
    # lost then).
    expect(modal.locator("#id_name")).to_be_focused()
    clients = modal.locator("#id_clients-ts-control")
    expect(modal.locator("#id_clients option", has_text="Иван")).to_have_count(0)
    client_dropdown = modal.locator("#id_clients-ts-dropdown")

    # The first search is held on its way to the server: meanwhile the dropdown says it searches.
    held = []
    page.route(SEARCH, lambda route: held.append(route))
    with page.expect_request(SEARCH):
        clients.fill("zzz")
    # Playwright reports the request before it hands it to the route; the handler has run by
    # the time the next call to the browser returns.
    expect(client_dropdown).to_have_text("Поиск…")
    (search,) = held
    search.continue_()
    page.unroute(SEARCH)
    expect(client_dropdown).to_have_text("Клиенты не найдены")

    clients.fill("петров")
    expect(client_dropdown.locator(".option")).to_have_text(["Иван Петров <ivan@example.com>"])
    expect(client_dropdown.locator(".no-results")).to_have_count(0)

    # The tag picker searches the tags the page lists, in the same words.
    tags = modal.locator("#id_tags-ts-control")
    tags.fill("zzz")
    tag_dropdown = modal.locator("#id_tags-ts-dropdown")
    with translation.override("ru"):
        expect(tag_dropdown.locator(".no-results")).to_have_text(gettext("No tags found"))
    expect(tag_dropdown).not_to_contain_text("No results found")
    tags.fill("москва")
    expect(tag_dropdown.locator(".option")).to_have_text(["Москва"])
    tag_dropdown.locator(".option").click()
    chosen = modal.locator(".ts-control:has(#id_tags-ts-control) .item")
    expect(chosen).to_have_count(1)
    expect(chosen).to_contain_text("Москва")
    expect(chosen.locator(".remove")).to_have_attribute("title", "Убрать")


def test_the_new_mailing_form_starts_filled_and_names_the_zone(signed_in_page, user):
    make_message(owner=user, subject="Spring sale", body="Everything -20%")
    page = signed_in_page
    page.goto("/mailings/")
    modal = page.locator("#modal")

    page.get_by_role("link", name="New mailing").click()

    expect(modal.get_by_label("First send")).not_to_have_value("")
    expect(modal.get_by_label("End", exact=True)).not_to_have_value("")
    expect(modal.locator("#field-start_at")).to_contain_text("Europe/Moscow")
