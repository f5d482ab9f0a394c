"""The live preview of the message form, in a real browser: a script in the body never runs."""

import pytest
from playwright.sync_api import expect

from core.models import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE_BODY = (
    "**Hello** {{ first_name }}\n\n"
    "<script>window.top.hacked = 1; top.document.title = 'pwned'</script>\n\n"
    '<img src="x" onerror="window.top.hacked = 2">\n\n'
    "[click](javascript:window.top.hacked=3)"
)


def test_a_script_in_a_markdown_body_never_runs_in_the_preview(signed_in_page, user):
    Client.objects.create(owner=user, email="ivan@example.com", full_name="Ivan Petrov")
    page = signed_in_page
    page.goto("/messages/")
    title = page.title()
    page.get_by_role("link", name="New message").click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()

    modal.get_by_label("Subject").fill("Hi {{ first_name }}")
    modal.get_by_label("Format").select_option("markdown")
    modal.get_by_label("Body").fill(HOSTILE_BODY)

    preview = modal.get_by_test_id("letter-preview")
    expect(preview.get_by_test_id("letter-subject")).to_have_text("Hi Ivan")
    frame = preview.get_by_test_id("letter-html")
    expect(frame).to_have_attribute("sandbox", "")
    letter = page.frame_locator("[data-testid=letter-html]")
    expect(letter.locator("strong")).to_have_text("Hello")
    expect(letter.locator("a[href^='javascript']")).to_have_count(0)  # the sanitiser's part
    page.wait_for_timeout(300)  # time for a script or an onerror to run, if one could

    assert page.evaluate("window.hacked") is None
    assert page.title() == title
    assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")

    # Typing on refreshes it in place; the body being typed in is never replaced.
    body = modal.get_by_label("Body")
    body.press("End")
    body.type(" {{ nme }}")
    expect(preview.get_by_test_id("letter-error")).to_contain_text("{{ nme }}")
    expect(body).to_be_focused()
