"""A user imports a file too large to write within the request: uploads it in the modal, maps
and previews it, confirms, and watches the progress bar until the worker is done; an import whose
worker died is resumed or cancelled from its page. In Chromium."""

import re

import pytest
from playwright.sync_api import expect

from core.models import Client, Import
from tests.factories import make_import
from tests.tasks import tasks_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TWO_ROWS = b"email,name\na@example.com,A\nb@example.com,B\n"


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
    expect(progress).to_have_attribute("value", "0")
    expect(progress).to_have_attribute("max", "32")
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


def test_an_interrupted_import_says_how_far_it_got_and_resumes_or_cancels(signed_in_page, user):
    resumable = make_import(owner=user, content=TWO_ROWS, name="first.csv", interrupted=True)
    cancellable = make_import(owner=user, content=TWO_ROWS, name="second.csv", interrupted=True)
    Import.objects.filter(pk=cancellable.pk).update(processed_rows=1, added=1)
    page = signed_in_page

    page.goto(f"/clients/imports/{resumable.pk}/")
    expect(page.get_by_test_id("import-status")).to_contain_text("Interrupted")
    expect(page.get_by_test_id("import-interrupted")).to_contain_text("after 0 of 2 rows")
    expect(page.get_by_test_id("import-state")).not_to_have_attribute("hx-trigger", "every 1s")
    page.get_by_test_id("import-resume").click()
    expect(page.get_by_test_id("import-status")).to_contain_text("Queued")
    expect(page.get_by_test_id("import-state")).to_have_attribute("hx-trigger", "every 1s")
    assert tasks_run() == 1
    expect(page.get_by_test_id("import-result")).to_contain_text("Added: 2.")

    page.goto(f"/clients/imports/{cancellable.pk}/")
    page.get_by_test_id("import-cancel").click()
    expect(page.get_by_test_id("import-cancelled")).to_contain_text(
        "Cancelled after 1 of 2 rows. What it wrote stays: added 1"
    )
    assert Import.objects.get(pk=cancellable.pk).status == Import.Status.CANCELLED
