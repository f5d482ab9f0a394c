"""What the list pages share (the owner's clients, messages and mailings, the manager's users,
mailings and audit log): one answer for a filtered table."""

import django_filters
import django_tables2 as tables
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django_tables2 import RequestConfig

from core.views.modal import partial_for

PER_PAGE = 25


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
    a template drawn above the heading (the manager's tabs)."""
    table = table_class(filterset.qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    template = partial_for(request, "core/object_list.html", "object-table")
    context |= {"filter": filterset, "table": table, "noun": noun}
    context |= {"heading": heading, "create_label": create_label}
    context["list_url"] = list_url or reverse(f"{noun}-list")
    return TemplateResponse(request, template, context)
