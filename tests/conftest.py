"""Shared fixtures: users, signed-in clients, and a real Chromium driven by Playwright."""

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.test import Client as HttpClient

from core.models import User
from tests.factories import make_user
from tests.sending.processes import children_stop

if TYPE_CHECKING:  # Playwright is imported where a browser starts
    from playwright.sync_api import BrowserContext, Page

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


class LiveRequests:
    """The requests the live server's threads are answering. A tab closed at the end of a test
    may leave one of them running (a poll, a refresh); the database's teardown (a TRUNCATE on
    PostgreSQL) would then deadlock with it, so the tabs' teardown waits for them to end.
    Requests of the test's own thread (Django's test client) are not counted."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.changed = threading.Condition()
        request_started.connect(self.started, dispatch_uid="live-requests-started")
        request_finished.connect(self.finished, dispatch_uid="live-requests-finished")

    def started(self, **kwargs) -> None:
        if threading.current_thread() is not threading.main_thread():
            with self.changed:
                self.threads.add(threading.get_ident())

    def finished(self, **kwargs) -> None:
        with self.changed:
            self.threads.discard(threading.get_ident())
            self.changed.notify_all()

    def wait_idle(self, timeout: float = 30) -> None:
        with self.changed:
            self.changed.wait_for(lambda: not self.threads, timeout=timeout)


LIVE_REQUESTS = LiveRequests()


@pytest.fixture
def open_tab(browser, live_server) -> Iterator[Callable[..., "Page"]]:
    """Opens browser tabs, each in a context of its own (own cookies), with short timeouts:
    `open_tab(user=None, locale="en-US", **context_options)`, signed in as `user` when given.
    The site's Content-Security-Policy is in force unless `bypass_csp=True`. Closed after the
    test."""
    contexts = []

    def open_one(*, user: User | None = None, locale: str = "en-US", **options) -> "Page":
        context = browser.new_context(locale=locale, base_url=live_server.url, **options)
        contexts.append(context)
        context.set_default_timeout(10_000)
        if user is not None:
            sign_in(context, user, live_server)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()
    LIVE_REQUESTS.wait_idle()


def sign_in(context: "BrowserContext", user: User, live_server) -> None:
    """Give the browser `context` a session of `user` (a cookie, not the sign-in form)."""
    client = HttpClient()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def page(open_tab) -> "Page":
    """A fresh browser tab speaking English.

    It ignores the Content-Security-Policy, so that tests may evaluate and inject what they
    need (wait_for_function, add_style_tag); the policy has a test of its own that does not
    (tests/browser/test_every_page_browser.py).
    """
    return open_tab(bypass_csp=True)


@pytest.fixture
def signed_in_page(page, user, live_server) -> "Page":
    """A browser tab already signed in as `user`."""
    sign_in(page.context, user, live_server)
    return page
