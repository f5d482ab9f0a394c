"""What happened to one mailing: its report on the mailing page, and the same as CSV."""

import csv
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from core import selectors
from core.models import Attempt, Delivery, Mailing
from core.outcomes import outcome_text

# A cell a spreadsheet would run as a formula; server replies come from outside.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


class _Echo:
    """A file that hands back what is written to it, for streaming csv.writer's lines."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _local(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _ledger_rows(mailing: Mailing) -> Iterator[list[str]]:
    # Rows are written after the view returns: every translated text is fixed here, first.
    header = [
        gettext("Run started"),
        gettext("Run status"),
        gettext("Recipient"),
        gettext("Delivery status"),
        gettext("Server reply"),
        gettext("Tries"),
        gettext("Sent at"),
    ]
    run_statuses = {value: str(label) for value, label in Attempt.Status.choices}
    delivery_statuses = {value: str(label) for value, label in Delivery.Status.choices}
    deliveries = selectors.mailing_delivery_ledger(mailing=mailing)

    def rows() -> Iterator[list[str]]:
        yield header
        for delivery in deliveries.iterator(chunk_size=2000):
            attempt = delivery.attempt
            yield [
                _local(attempt.attempted_at),
                run_statuses.get(attempt.status, attempt.status),
                _cell(delivery.email),
                delivery_statuses.get(delivery.status, delivery.status),
                _cell(outcome_text(delivery.reply)),
                str(delivery.tries),
                _local(delivery.sent_at),
            ]

    return rows()


@require_GET
def mailing_report_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every recipient of every run of the mailing, with its status and the server's reply."""
    mailing = _mailing(request, pk)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _ledger_rows(mailing)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="mailing-{mailing.pk}-report.csv"'
    return response
