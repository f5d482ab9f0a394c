"""Every page state in a real browser: nothing the Content-Security-Policy refuses, no sideways
scroll on a 390 px phone, and no serious or critical axe-core violation.

"Every page" is the list below: each list, detail page and form (in the modal and on its own),
the dashboard, the report, the sender profile, the managers' pages, sign-in and sign-up, an
error page, the imports (upload modal, mapping, preview, result, list), the client list's bulk
bar and its action modals, and the client and mailing pages with tags and recipients.
"""

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from core.models import Import
from core.services import administration, imports
from tests.factories import (
    make_client,
    make_import,
    make_mailing,
    make_message,
    make_tag,
    record_run,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
# A subject of one long word: on a phone it must wrap inside its card, not widen the page.
LONG_SUBJECT = "Осенняяраспродажаидругиеновостинашегомагазинадляпостоянныхклиентов"


@pytest.fixture
def site(user):
    """A manager who owns one of everything, a run, tags and imports in each state included, so
    every page has content."""
    administration.managers_add(user=user)
    client = make_client(owner=user, email="a.very.long.address.of.a.client@example.com")
    tag = make_tag(owner=user, name="Постоянныеклиентымагазина", clients=[client])
    make_tag(owner=user, name="VIP", clients=[client])
    message = make_message(owner=user, subject=LONG_SUBJECT, body="Hello, {{ name }}!")
    mailing = make_mailing(owner=user, message=message, clients=[client])
    mailing.tags.add(tag)
    record_run(mailing, {client.email: ("failed", "550 mailbox unavailable")}, at=timezone.now())
    # An import of every kind of row: new, repeated in the file, existing, invalid.
    content = (
        "Email;ФИО;Комментарий\n"
        "new@example.com;Новый клиент;\n"
        "new@example.com;Повтор;\n"
        f"{client.email};Уже есть;\n"
        "not-an-address;Ошибка;\n"
    ).encode()
    uploaded = make_import(owner=user, content=content, name="клиенты-осень.csv")
    previewed = make_import(owner=user, content=content, name="clients.csv")
    imports.import_preview(imp=previewed, mapping=previewed.mapping)
    done = make_import(owner=user, content=content, name="clients-done.csv", done=True)
    running = make_import(owner=user, content=content, name="clients-running.csv")
    imports.import_preview(imp=running, mapping=running.mapping)
    Import.objects.filter(pk=running.pk).update(
        status=Import.Status.RUNNING, processed_rows=2, progress_at=timezone.now()
    )
    interrupted = make_import(owner=user, content=content, name="stopped.csv", interrupted=True)
    return {
        "client": client.pk,
        "message": message.pk,
        "mailing": mailing.pk,
        "imports": [uploaded.pk, previewed.pk, done.pk, running.pk, interrupted.pk],
    }


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
    pages += ["/clients/imports/", *(f"/clients/imports/{pk}/" for pk in objects["imports"])]
    pages += [
        f"/mailings/{mailing}/report/",
        "/manage/",
        "/manage/mailings/",
        f"/manage/mailings/{mailing}/",
        "/manage/audit/",
    ]
    return pages


ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"]

# Forms in the shared modal: the list, the link or button that opens it, whether to submit it
# empty, and whether to tick a row first (the client list's bulk actions).
MODAL_STATES = [
    ("/clients/", "link", "New client", False, False),
    ("/clients/", "link", "New client", True, False),
    ("/clients/", "link", "Import", False, False),
    ("/clients/", "link", "Import", True, False),
    ("/clients/", "button", "Tag…", False, True),
    ("/clients/", "button", "Untag…", False, True),
    ("/clients/", "button", "Add to mailing…", False, True),
    ("/clients/", "button", "Delete…", False, True),
    ("/messages/", "link", "New message", False, False),
    ("/mailings/", "link", "New mailing", False, False),
    ("/mailings/", "link", "New mailing", True, False),
]


def new_tab(open_tab, user=None, **options):
    """A tab (signed in as `user` if given) that collects the page's CSP violations."""
    page = open_tab(user=user, **options)
    page.context.add_init_script(COLLECT_CSP_VIOLATIONS)
    return page


# Shown and done fading in: axe would blend a half-opaque modal's colours with the page's.
MODAL_SHOWN = """() => {
  const modal = document.querySelector("#modal");
  const dialog = modal.querySelector(".modal-dialog");
  return modal.classList.contains("show") && getComputedStyle(modal).opacity === "1"
    && getComputedStyle(dialog).transform === "none";
}"""


# Settled, and every field Tom Select takes over taken, on pages that load it (htmx:load runs
# after the settle delay, so a swapped-in form is briefly without it).
MODAL_ENHANCED = """() => !document.querySelector("#modal .htmx-settling") && (
  typeof TomSelect === "undefined" || !document.querySelector(
    "#modal [data-tom-select]:not(.tomselected), #modal [data-search-url]:not(.tomselected),"
    + " #modal [data-tag-input]:not(.tomselected)"
  )
)"""


def wait_until(page, predicate: str, timeout: float = 10.0) -> None:
    """Poll `predicate` (a function's source) in the page until it holds. Not
    `page.wait_for_function`: its polling evaluates strings, which the CSP of these tabs
    refuses ('unsafe-eval'); `page.evaluate` goes through the debugger and is not refused."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        page.wait_for_timeout(50)


def page_states(page, objects):
    """Visit every page state in turn, yielding a name for each once it has settled."""
    for path in signed_in_pages(objects):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        yield path
    for path, role, opener, submit, tick_a_row in MODAL_STATES:
        page.goto(path)
        if tick_a_row:
            page.locator("tbody input[type=checkbox][name=pk]").first.check()
        page.get_by_role(role, name=opener, exact=True).click()
        modal = page.locator("#modal")
        modal.locator(".modal-footer").wait_for()
        wait_until(page, MODAL_SHOWN)
        if submit:
            modal.locator(".modal-footer [type=submit]").click()
            modal.locator(".invalid-feedback:not(:empty)").first.wait_for()
        page.wait_for_load_state("networkidle")
        wait_until(page, MODAL_ENHANCED)
        yield f"{path} {opener} modal{' with errors' if submit else ''}"


def anonymous_states(page):
    for path in ANONYMOUS_PAGES:
        page.goto(path)
        yield path


def every_state(open_tab, user, objects, **options):
    """Visit every page state, signed in and then anonymous, yielding (tab, state) once each
    has settled."""
    page = new_tab(open_tab, user, **options)
    for state in page_states(page, objects):
        yield page, state
    anonymous = new_tab(open_tab, **options)
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


def test_no_page_breaks_the_content_security_policy(open_tab, user, site):
    violations = []
    console = []
    tabs = []
    for page, state in every_state(open_tab, user, site):
        if page not in tabs:
            tabs.append(page)
            page.on("console", lambda message: console.append(message.text))
        found = page.evaluate("window.cspViolations || []")
        violations += [f"{state}: {violation}" for violation in found]

    assert tabs, "no page was visited"
    assert not violations, "\n".join(violations)
    assert not [text for text in console if "Content Security Policy" in text], console


def test_every_page_fits_a_phone_without_sideways_scroll(open_tab, user, site):
    too_wide = []
    for page, state in every_state(open_tab, user, site, viewport=PHONE):
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{state}: {width} px")

    assert not too_wide, "\n".join(too_wide)


def test_no_page_has_a_serious_or_critical_accessibility_violation(open_tab, user, site):
    problems = []
    # axe is injected as a script of the page: the CSP would refuse it, so this tab ignores CSP.
    for page, state in every_state(open_tab, user, site, bypass_csp=True):
        page.add_script_tag(path=str(AXE))
        results = page.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations"
            ".filter((v) => v.impact === 'serious' || v.impact === 'critical')"
            ".map((v) => `${v.id} (${v.impact}): `"
            " + v.nodes.map((n) => n.target.join(' ')).join(', ')))"
        )
        problems += [f"{state}: {result}" for result in results]

    assert not problems, "\n".join(problems)
