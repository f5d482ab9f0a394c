"""Tables: one per entity, rendered by django-tables2 with the Bootstrap 5 template."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.models import Attempt

ATTEMPT_STATUS_BADGES = {
    Attempt.Status.SUCCESS: "text-bg-success",
    Attempt.Status.FAILURE: "text-bg-danger",
    Attempt.Status.RUNNING: "text-bg-warning",
}


class AttemptTable(tables.Table):
    """The latest runs of a user's mailings on the dashboard.

    Only the run time and the status sort: both have an index, so sorting a long history
    stays as cheap as showing it.
    """

    attempted_at = tables.DateTimeColumn(verbose_name=_("When"), format="SHORT_DATETIME_FORMAT")
    mailing = tables.Column(
        verbose_name=_("Mailing"), accessor="mailing__message__subject", orderable=False
    )
    status = tables.Column(verbose_name=_("Status"))
    accepted_count = tables.Column(
        verbose_name=_("Accepted"), orderable=False, attrs={"td": {"class": "text-end"}}
    )
    failed_count = tables.Column(
        verbose_name=_("Failed"), orderable=False, attrs={"td": {"class": "text-end"}}
    )
    pending_count = tables.Column(
        verbose_name=_("Pending"), orderable=False, attrs={"td": {"class": "text-end"}}
    )
    server_response = tables.Column(
        verbose_name=_("Server response"),
        orderable=False,
        attrs={"td": {"class": "text-break small"}},
    )

    class Meta:
        model = Attempt
        fields = [
            "attempted_at",
            "mailing",
            "status",
            "accepted_count",
            "failed_count",
            "pending_count",
            "server_response",
        ]
        order_by = "-attempted_at"
        empty_text = _("No runs yet.")
        attrs = {"class": "table table-sm align-middle mb-0", "id": "attempt-table-grid"}
        row_attrs = {"data-status": lambda record: record.status}

    def render_status(self, value, record) -> str:
        badge = ATTEMPT_STATUS_BADGES.get(record.status, "text-bg-secondary")
        return format_html('<span class="badge {}">{}</span>', badge, value)

    def render_server_response(self, value) -> str:
        return value if len(value) <= 120 else value[:119] + "…"
