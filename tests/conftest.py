"""Shared fixtures: users, signed-in clients, and a real Chromium driven by Playwright."""

import os
import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.test import Client as HttpClient

from core.models import User
from tests.factories import make_user
from tests.sending.processes import children_stop

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse it otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Once a test ends, kill the sender and worker processes it left running: one that
    failed before waiting for them would otherwise leave them sending from the next tests'
    database, one failure turning into many. Before the database's teardown, whose flush
    would wait on their locks."""
    try:
        return (yield)
    finally:
        children_stop()


@pytest.fixture(autouse=True)
def _english_by_default(settings) -> None:
    """Assertions read English; the Russian default has tests of its own."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def user(db) -> User:
    return make_user(email="anna@example.com", full_name="Anna")


@pytest.fixture
def other_user(db) -> User:
    return make_user(email="boris@example.com", full_name="Boris")


@pytest.fixture
def user_client(user) -> HttpClient:
    """A test client signed in as `user`."""
    client = HttpClient()
    client.force_login(user)
    return client


@pytest.fixture
def htmx_client(user) -> HttpClient:
    """A test client signed in as `user` whose every request says it comes from htmx."""
    client = HttpClient(headers={"HX-Request": "true"})
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's Chromium, headless. A missing browser fails the run: it never skips."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser tab (own cookies) speaking English, with short timeouts.

    It ignores the Content-Security-Policy, so that tests may evaluate and inject what they
    need (wait_for_function, add_style_tag); the policy has a test of its own that does not
    (tests/browser/test_every_page_browser.py).
    """
    context = browser.new_context(locale="en-US", base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def signed_in_page(page, user, live_server):
    """A browser tab already signed in as `user` (through a session cookie, not the form)."""
    client = HttpClient()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return page
