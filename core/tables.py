"""Tables: one per entity, rendered by django-tables2 with the Bootstrap 5 template."""

import django_tables2 as tables
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tables2.paginators import LazyPaginator

from core.models import Attempt

ATTEMPT_STATUS_BADGES = {
    Attempt.Status.SUCCESS: "text-bg-success",
    Attempt.Status.FAILURE: "text-bg-danger",
    Attempt.Status.RUNNING: "text-bg-warning",
}


NUMBER_ATTRS = {"th": {"class": "text-end"}, "td": {"class": "text-end"}}


class _KeysThenRows:
    """A queryset's slices read as two queries: the keys in order, then those rows by key."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset

    def __getitem__(self, window: slice) -> list:
        keys = list(self.queryset.values_list("pk", flat=True)[window])
        rows = self.queryset.order_by().in_bulk(keys)
        return [rows[key] for key in keys if key in rows]


class KeysFirstPaginator(LazyPaginator):
    """A lazy paginator (it never counts) that reads a page's keys before the page's rows.

    Asked for whole rows through joins, SQLite sorts the user's entire history to find one
    page; asked for the keys alone, it walks the (mailing, attempted_at) index in order and
    stops at the page. Two small queries instead of one that grows with the history.
    """

    def page(self, number):
        # The table pages its BoundRows, which slice its TableQuerysetData, which slices the
        # queryset: only that innermost slice changes, for the time of this call.
        table_data = self.object_list.data
        queryset = table_data.data
        table_data.data = _KeysThenRows(queryset)
        try:
            return super().page(number)
        finally:
            table_data.data = queryset


class AttemptTable(tables.Table):
    """The latest runs of a user's mailings on the dashboard.

    Only the run time sorts: the (mailing, attempted_at) index serves it both ways, so sorting
    a long history stays as cheap as showing it; the status is a filter instead.
    """

    attempted_at = tables.DateTimeColumn(verbose_name=_("When"), format="SHORT_DATETIME_FORMAT")
    mailing = tables.Column(
        verbose_name=_("Mailing"), accessor="mailing__message__subject", orderable=False
    )
    status = tables.Column(verbose_name=_("Status"), orderable=False)
    accepted_count = tables.Column(verbose_name=_("Accepted"), orderable=False, attrs=NUMBER_ATTRS)
    failed_count = tables.Column(verbose_name=_("Failed"), orderable=False, attrs=NUMBER_ATTRS)
    pending_count = tables.Column(verbose_name=_("Pending"), orderable=False, attrs=NUMBER_ATTRS)
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
