"""Back and Forward over a filtered list: the filter bar shows the filter in force.

htmx puts a page back from its history cache as it was saved, and a saved form field keeps
the value it was rendered with, not the one typed since: the bar must follow the address.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import make_clients

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows(page):
    return page.locator("#client-table tbody tr")


def test_back_after_filtering_shows_the_filter_in_force(signed_in_page, user):
    make_clients(owner=user, count=30, email="client{n:02}@example.com", full_name="Person {n:02}")
    page = signed_in_page
    page.goto("/clients/")
    search = page.get_by_role("searchbox", name="Search")
    state = page.get_by_label("State")

    search.fill("person 1")
    expect(page).to_have_url(re.compile(r"q=person(\+|%20)1"))
    expect(rows(page)).to_have_count(10)
    state.select_option("active")
    expect(page).to_have_url(re.compile(r"state=active"))
    search.fill("person 2")
    expect(page).to_have_url(re.compile(r"q=person(\+|%20)2"))
    expect(rows(page).first).to_contain_text("client20@example.com")
    # Away through a table link (sorted), then back twice.
    page.get_by_role("link", name="Email").click()
    expect(page).to_have_url(re.compile(r"sort=-email"))

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=person(\+|%20)2&state=active"))
    expect(search).to_have_value("person 2")
    expect(rows(page).first).to_contain_text("client20@example.com")

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=person(\+|%20)1&state=active"))
    expect(search).to_have_value("person 1")
    expect(state).to_have_value("active")
    expect(rows(page)).to_have_count(10)
    expect(rows(page).first).to_contain_text("client10@example.com")

    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/clients/$"))
    expect(search).to_have_value("")
    expect(state).to_have_value("")
    expect(rows(page)).to_have_count(25)

    page.go_forward()
    expect(search).to_have_value("person 1")
    expect(state).to_have_value("")
    expect(rows(page)).to_have_count(10)
