"""A user imports a file too large to write within the request: uploads it in the modal, maps
and previews it, confirms, and watches the progress bar until the worker is done. In Chromium."""

import re

import pytest
from playwright.sync_api import expect

from core.models import Client, Import
from tests.tasks import tasks_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_background_import_shows_its_progress_until_done(signed_in_page, user, settings):
    settings.IMPORT_INLINE_ROWS = 10
    rows = "".join(f"client{n}@example.com;Клиент {n}\r\n" for n in range(30))
    content = ("Почта;ФИО\r\n" + rows + "CLIENT0@example.com;Again\r\nbroken;X\r\n").encode(
        "cp1251"
    )
    page = signed_in_page
    page.goto("/clients/")

    page.get_by_role("link", name="Import", exact=True).click()
    modal = page.locator("#modal")
    modal.get_by_label("File").set_input_files(
        {"name": "клиенты.csv", "mimeType": "text/csv", "buffer": content}
    )
    modal.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", name="Import: клиенты.csv")).to_be_visible()
    expect(page.get_by_label("Email column")).to_have_value("0")
    expect(page.get_by_label("Full name column")).to_have_value("1")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("count-new")).to_have_text("To add: 30")
    expect(page.get_by_test_id("count-duplicate")).to_contain_text("Duplicates inside the file: 1")
    expect(page.get_by_test_id("sample-duplicate")).to_contain_text("client0@example.com")
    expect(page.get_by_test_id("count-invalid")).to_have_text("Invalid, refused: 1")
    page.get_by_label("Tag every imported client").fill("Импорт")
    page.get_by_role("button", name="Import", exact=True).click()

    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_test_id("import-state")).to_contain_text("Importing: 0 of 32 rows.")
    assert Client.objects.count() == 0

    assert tasks_run() == 1

    # The page asks again by itself: no reload, and once done it stops asking.
    result = page.get_by_test_id("import-result")
    expect(result).to_have_text(re.compile(r"Added: 30\. Updated: 0\. Skipped: 1\. Refused: 1\."))
    expect(page.get_by_test_id("import-state")).not_to_have_attribute("hx-trigger", "every 1s")
    expect(page.get_by_test_id("refused-csv")).to_be_visible()
    assert Import.objects.get().status == Import.Status.DONE
    assert Client.objects.filter(owner=user, tags__name="Импорт").count() == 30
