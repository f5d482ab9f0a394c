"""What happened to one mailing: its report on the mailing page, and the same as CSV."""

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from core import selectors
from core.models import Attempt, Delivery, Mailing
from core.outcomes import outcome_text
from core.services import exports
from core.services.exports import spreadsheet_cell, spreadsheet_datetime


def _mailing(request: HttpRequest, pk: int) -> Mailing:
    return get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)


@require_GET
def mailing_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The report of one of the user's mailings: a fragment for htmx, a page otherwise.

    The mailing page loads it with hx-get when it opens.
    """
    mailing = _mailing(request, pk)
    report = selectors.mailing_report(mailing=mailing)
    context = {
        "mailing": mailing,
        "report": report,
        # The open run holding the waiting letters, if any: when they are tried again.
        "waiting_run": report.open_run,
        # The fragment lives on the mailing page, whose attempts section lists the runs.
        "embedded": bool(request.htmx),
    }
    template = "core/mailing/report.html"
    if request.htmx:
        template += "#mailing-report"
    return TemplateResponse(request, template, context)


def _ledger(mailing: Mailing) -> tuple[list[str], Iterator[list[str]]]:
    """The header and the rows of the report's CSV; dates in the reader's time zone, which
    the header names."""
    # Rows are written after the view returns, when the middleware that activated the
    # reader's language and time zone has finished: the rows put both back.
    zone = timezone.get_current_timezone()
    language = translation.get_language()
    in_zone = gettext("%(column)s (%(zone)s)")
    header = [
        in_zone % {"column": gettext("Run started"), "zone": zone},
        gettext("Run status"),
        gettext("Recipient"),
        gettext("Delivery status"),
        gettext("Server reply"),
        gettext("Tries"),
        in_zone % {"column": gettext("Sent at"), "zone": zone},
    ]
    run_statuses = {value: str(label) for value, label in Attempt.Status.choices}
    delivery_statuses = {value: str(label) for value, label in Delivery.Status.choices}
    deliveries = selectors.mailing_delivery_ledger(mailing=mailing)

    def rows() -> Iterator[list[str]]:
        for delivery in deliveries.iterator(chunk_size=2000):
            attempt = delivery.attempt
            with timezone.override(zone), translation.override(language):
                yield [
                    spreadsheet_datetime(attempt.attempted_at),
                    run_statuses.get(attempt.status, attempt.status),
                    spreadsheet_cell(delivery.email),
                    delivery_statuses.get(delivery.status, delivery.status),
                    spreadsheet_cell(outcome_text(delivery.reply)),
                    str(delivery.tries),
                    spreadsheet_datetime(delivery.sent_at),
                ]

    return header, rows()


@require_GET
def mailing_report_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every recipient of every run of the mailing, with its status and the server's reply:
    UTF-8 with a BOM, `delimiter=semicolon` for `;`, named after the mailing and the day."""
    mailing = _mailing(request, pk)
    header, rows = _ledger(mailing)
    name = slugify(mailing.name, allow_unicode=True) or f"mailing-{mailing.pk}"
    return StreamingHttpResponse(
        exports.csv_lines(header, rows, delimiter=exports.csv_delimiter(request.GET)),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": exports.attachment(f"{name}-{timezone.localdate():%Y-%m-%d}.csv")
        },
    )
