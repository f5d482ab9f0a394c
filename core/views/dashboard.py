"""The home page: what the signed-in user's mailings did, what failed and what runs next."""

import functools
import hashlib
from datetime import date

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET

from core import selectors
from core.filters import AttemptFilter
from core.tables import AttemptTable, KeysFirstPaginator
from core.views.lists import TableConfig

ATTEMPTS_PER_PAGE = 10
# The element whose htmx requests refresh every live part of the page at once.
POLLER_ID = "dashboard-poll"
TABLE_ID = "attempt-table"


def _attempt_table(request: HttpRequest) -> tuple[AttemptFilter, AttemptTable]:
    """The runs table as filtered, sorted and paged by the query string."""
    attempt_filter = AttemptFilter(
        request.GET or None, queryset=selectors.attempt_list(user=request.user), request=request
    )
    table = AttemptTable(attempt_filter.qs)
    TableConfig(
        request, paginate={"paginator_class": KeysFirstPaginator, "per_page": ATTEMPTS_PER_PAGE}
    ).configure(table)
    return attempt_filter, table


@functools.lru_cache(maxsize=512)
def _day_text(day: date, format_name: str, language: str | None) -> str:
    return formats.date_format(day, format_name)


def day_text(day: date, format_name: str) -> str:
    """`formats.date_format(day, format_name)`, remembered per language: the page formats the
    same 30 days twice on every full page and poll, some tens of microseconds each."""
    return _day_text(day, format_name, get_language())


@receiver(setting_changed)
def _forget_day_texts(**kwargs) -> None:
    """A changed date format (in tests) formats the days again."""
    _day_text.cache_clear()


def _chart(days: list[selectors.DayDeliveries]) -> dict:
    """What the chart script draws: labels and the two series."""
    return {
        "labels": [day_text(day.day, "j M") for day in days],
        "datasets": [
            {"key": "accepted", "label": gettext("Delivered"), "data": [d.accepted for d in days]},
            {"key": "failed", "label": gettext("Failed"), "data": [d.failed for d in days]},
        ],
    }


def chart_rows(days: list[selectors.DayDeliveries]) -> SafeString:
    """The chart's figures as the rows of its table, for screen readers: written here, not by a
    template loop, which cost about a millisecond and a half for the 30 days on every full page
    and poll. Markup as the template wrote it (tests/test_dashboard_markup.py)."""
    return format_html_join(
        "\n",
        '<tr><th scope="row"><time datetime="{}">{}</time></th><td>{}</td><td>{}</td></tr>',
        (
            (
                day.day.isoformat(),
                day_text(day.day, "SHORT_DATE_FORMAT"),
                formats.localize(day.accepted),
                formats.localize(day.failed),
            )
            for day in days
        ),
    )


def _poll_etag(request: HttpRequest) -> str:
    """The poll answer's version: the user's data (one query), the query string (the runs
    table's filter, sort and page), the language and the local day (the chart's window)."""
    version = selectors.dashboard_version(user=request.user)
    key = repr(
        (version, request.user.pk, request.get_full_path(), get_language(), timezone.localdate())
    )
    return '"' + hashlib.blake2b(key.encode(), digest_size=16).hexdigest() + '"'


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the signed-in user, or one of its live fragments for htmx.

    Sorting, paging or filtering the runs asks for the table alone; the poller asks for every
    live part, each marked for an out-of-band swap, and the page keeps those that are unchanged.
    """
    user = request.user
    polled = request.htmx and request.htmx.trigger == POLLER_ID
    if polled:
        # The browser revalidates its copy of the last answer (Cache-Control: no-cache): when
        # nothing changed, 304 and nothing rendered; htmx then gets the copy, and dashboard.js
        # leaves every unchanged part alone.
        etag = _poll_etag(request)
        if not_modified := get_conditional_response(request, etag=etag):
            not_modified["ETag"] = etag
            return not_modified
    attempt_filter, table = _attempt_table(request)
    context = {"attempt_filter": attempt_filter, "table": table, "poller_id": POLLER_ID}
    if request.htmx and request.htmx.target == TABLE_ID:
        return TemplateResponse(request, "core/dashboard.html#attempt-table", context)

    figures = selectors.dashboard_figures(user=user, now=timezone.now())
    context |= {
        "figures": figures,
        "stats_days": selectors.STATS_DAYS,
        "chart": _chart(figures.days),
        "chart_rows": chart_rows(figures.days),
        "next_runs": selectors.mailing_next_runs(user=user),
    }
    if polled:
        response = TemplateResponse(
            request, "core/dashboard.html#dashboard-live", context | {"oob": True}
        )
        response["ETag"] = etag
        patch_cache_control(response, private=True, no_cache=True)
        # The full page and the poll share the address: the browser keeps them apart.
        patch_vary_headers(response, ["HX-Request", "HX-Trigger"])
        return response
    return TemplateResponse(request, "core/dashboard.html", context)
