"""What the pages of a client, message and mailing share: one answer for an object's page."""

from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.views.modal import partial_for


def detail_response(
    request: HttpRequest,
    *,
    noun: str,
    obj: Model,
    heading: str,
    list_title: str,
    refresh_on: str = "",
    **context,
) -> TemplateResponse:
    """The page of the `noun` `obj` under `heading`, its breadcrumb back to `list_title`, its
    body from core/<noun>/detail.html; htmx gets only the details section, which re-fetches
    itself on the `refresh_on` events (default: `<noun>ListChanged`, a modal form changed it).
    `context` may name `actions` (a template of more buttons) and `after` (what follows the
    section)."""
    template = partial_for(request, "core/object_detail.html", "object-details")
    context |= {"noun": noun, "object": obj, "heading": heading, "list_title": list_title}
    context["refresh_on"] = refresh_on or f"{noun}ListChanged from:body"
    return TemplateResponse(request, template, {"body": f"core/{noun}/detail.html", **context})
