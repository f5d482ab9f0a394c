"""What the list pages of clients, messages and mailings share: one answer for a filtered table."""

import django_filters
import django_tables2 as tables
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_tables2 import RequestConfig

from core.views.modal import partial_for

PER_PAGE = 25


def list_response(
    request: HttpRequest,
    filterset: django_filters.FilterSet,
    table_class: type[tables.Table],
    section: str,
) -> TemplateResponse:
    """A list page: the rows `filterset` lets through in a `table_class`, sorted and paged by
    the query string. `section` names the page and its table's partial ("page.html#partial"):
    htmx gets only that partial, a browser the whole page."""
    table = table_class(filterset.qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    template, partial = section.split("#")
    context = {"filter": filterset, "table": table}
    return TemplateResponse(request, partial_for(request, template, partial), context)
