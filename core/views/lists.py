"""What the list pages share (the owner's clients, messages and mailings, the manager's users,
mailings and audit log): one answer for a filtered table."""

import django_filters
import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django_tables2 import LazyPaginator, RequestConfig

from core.models import parse_object_id
from core.views.modal import partial_for

PER_PAGE = 25
# What the query string may ask of a table: at most this many rows a page (`?per_page=100000`
# would read every row), and pages up to this number (a larger OFFSET overflows SQLite).
MAX_PER_PAGE = 100
MAX_PAGE = 100_000
# Query parameters that page or sort a table without filtering its rows.
NOT_FILTERS = {"page", "per_page", "sort"}


class TableConfig(RequestConfig):
    """django-tables2's RequestConfig with the numbers a visitor can type bounded.

    A page or page size that is no positive number is ignored (the default applies), a page
    size is at most MAX_PER_PAGE, a page at most MAX_PAGE; a page past the last shows the last
    one (for a paginator that never counts, the first).
    """

    def configure(self, table: tables.Table) -> tables.Table:
        table.request = self.request
        if order_by := self.request.GET.getlist(table.prefixed_order_by_field):
            table.order_by = order_by
        if not self.paginate:
            return table
        options = dict(self.paginate) if hasattr(self.paginate, "items") else {}
        options.pop("silent", None)
        if size := parse_object_id(self.request.GET.get(table.prefixed_per_page_field)):
            options["per_page"] = min(size, MAX_PER_PAGE)
        page = parse_object_id(self.request.GET.get(table.prefixed_page_field)) or 1
        try:
            table.paginate(page=min(page, MAX_PAGE), **options)
        except (EmptyPage, PageNotAnInteger):
            counted = not isinstance(table.paginator, LazyPaginator)
            table.page = table.paginator.page(table.paginator.num_pages if counted else 1)
        return table


def list_response(
    request: HttpRequest,
    filterset: django_filters.FilterSet,
    table_class: type[tables.Table],
    *,
    noun: str,
    heading: str,
    create_label: str = "",
    list_url: str = "",
    **context,
) -> TemplateResponse:
    """The list page of the `noun` ("client"): the rows `filterset` lets through in a
    `table_class`, sorted and paged by the query string, under `heading` and a `create_label`
    button (none without a label); htmx gets only the table section, a browser the whole page.
    The filter bar asks `list_url` (default: the `<noun>-list` URL); `context` may name `above`,
    a template drawn above the heading (the manager's tabs), and what an empty list offers
    (`empty_label`, `empty_actions`: includes/empty_state.html)."""
    table = table_class(filterset.qs)
    TableConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    template = partial_for(request, "core/object_list.html", "object-table")
    context |= {"filter": filterset, "table": table, "noun": noun}
    context |= {"heading": heading, "create_label": create_label}
    context["list_url"] = list_url or reverse(f"{noun}-list")
    # An empty list says why: a filter let nothing through, or there is nothing yet.
    context["filtered"] = any(
        value for name, value in request.GET.items() if name not in NOT_FILTERS
    )
    return TemplateResponse(request, template, context)
