"""Every page state in a real browser: nothing the Content-Security-Policy refuses, no sideways
scroll on a 390 px phone, and no serious or critical axe-core violation.

"Every page" is the list below: each list, detail page and form (in the modal and on its own),
the dashboard, the report, the sender profile, the managers' pages, sign-in and sign-up, and
an error page.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone
from playwright.sync_api import expect

from core.services import administration
from tests.factories import make_client, make_mailing, make_message, record_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
# A subject of one long word: on a phone it must wrap inside its card, not widen the page.
LONG_SUBJECT = "Осенняяраспродажаидругиеновостинашегомагазинадляпостоянныхклиентов"


@pytest.fixture
def site(user):
    """A manager who owns one of everything, a run included, so every page has content."""
    administration.managers_add(user=user)
    client = make_client(owner=user, email="a.very.long.address.of.a.client@example.com")
    message = make_message(owner=user, subject=LONG_SUBJECT, body="Hello, {{ name }}!")
    mailing = make_mailing(owner=user, message=message, clients=[client])
    record_run(mailing, {client.email: ("failed", "550 mailbox unavailable")}, at=timezone.now())
    return {"client": client.pk, "message": message.pk, "mailing": mailing.pk}


def signed_in_pages(objects) -> list[str]:
    pages = ["/", "/profile/sender/", "/clients/999999999/"]
    for noun in ("client", "message", "mailing"):
        pk = objects[noun]
        pages += [
            f"/{noun}s/",
            f"/{noun}s/new/",
            f"/{noun}s/{pk}/",
            f"/{noun}s/{pk}/edit/",
            f"/{noun}s/{pk}/delete/",
        ]
    mailing = objects["mailing"]
    pages += [
        f"/mailings/{mailing}/report/",
        "/manage/",
        "/manage/mailings/",
        f"/manage/mailings/{mailing}/",
        "/manage/audit/",
    ]
    return pages


ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"]

# Forms in the shared modal: the list, the button that opens it, and whether to submit it empty.
MODAL_STATES = [
    ("/clients/", "New client", False),
    ("/clients/", "New client", True),
    ("/messages/", "New message", False),
    ("/mailings/", "New mailing", False),
    ("/mailings/", "New mailing", True),
]


# No htmx swap under way, and every field that Tom Select takes over taken over.
# Fields that Tom Select takes over, not taken over yet.
NOT_ENHANCED = (
    "#modal select[multiple][data-search-url]:not(.tomselected),"
    " #modal [data-tom-select]:not(.tomselected),"
    " #modal input[data-tag-input]:not(.tomselected)"
)


def new_tab(browser, live_server, user=None, **options):
    context = browser.new_context(locale="en-US", base_url=live_server.url, **options)
    context.set_default_timeout(10_000)
    context.add_init_script(COLLECT_CSP_VIOLATIONS)
    if user is not None:
        http = HttpClient()
        http.force_login(user)
        cookie = http.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return context.new_page()


def page_states(page, objects):
    """Visit every page state in turn, yielding a name for each once it has settled."""
    for path in signed_in_pages(objects):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        yield path
    for path, button, submit in MODAL_STATES:
        page.goto(path)
        page.get_by_role("link", name=button).click()
        modal = page.locator("#modal")
        modal.locator(".modal-footer").wait_for()
        page.wait_for_function("document.querySelector('#modal').classList.contains('show')")
        if submit:
            modal.get_by_role("button", name="Save").click()
            modal.locator(".invalid-feedback:not(:empty)").first.wait_for()
        page.wait_for_load_state("networkidle")
        # The answer is swapped in before htmx settles it and app.js enhances its fields.
        expect(page.locator(".htmx-swapping, .htmx-settling")).to_have_count(0)
        expect(page.locator(NOT_ENHANCED)).to_have_count(0)
        yield f"{path} modal{' with errors' if submit else ''}"


def anonymous_states(page):
    for path in ANONYMOUS_PAGES:
        page.goto(path)
        yield path


def every_state(browser, live_server, user, objects, **options):
    """Visit every page state, signed in and then anonymous, yielding (tab, state) once each
    has settled."""
    page = new_tab(browser, live_server, user, **options)
    for state in page_states(page, objects):
        yield page, state
    anonymous = new_tab(browser, live_server, **options)
    for state in anonymous_states(anonymous):
        yield anonymous, state


COLLECT_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def test_no_page_breaks_the_content_security_policy(browser, live_server, user, site):
    violations = []
    console = []
    tabs = []
    for page, state in every_state(browser, live_server, user, site):
        if page not in tabs:
            tabs.append(page)
            page.on("console", lambda message: console.append(message.text))
        found = page.evaluate("window.cspViolations || []")
        violations += [f"{state}: {violation}" for violation in found]

    assert tabs, "no page was visited"
    assert not violations, "\n".join(violations)
    assert not [text for text in console if "Content Security Policy" in text], console


def test_every_page_fits_a_phone_without_sideways_scroll(browser, live_server, user, site):
    too_wide = []
    for page, state in every_state(browser, live_server, user, site, viewport=PHONE):
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{state}: {width} px")

    assert not too_wide, "\n".join(too_wide)


def test_no_page_has_a_serious_or_critical_accessibility_violation(
    browser, live_server, user, site
):
    problems = []
    # axe is injected as a script of the page: the CSP would refuse it, so this tab ignores CSP.
    for page, state in every_state(browser, live_server, user, site, bypass_csp=True):
        page.add_script_tag(path=str(AXE))
        results = page.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations"
            ".filter((v) => v.impact === 'serious' || v.impact === 'critical')"
            ".map((v) => `${v.id} (${v.impact}): `"
            " + v.nodes.map((n) => n.target.join(' ')).join(', ')))"
        )
        problems += [f"{state}: {result}" for result in results]

    assert not problems, "\n".join(problems)
