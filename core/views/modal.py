"""Answers to forms shown in the base page's shared modal, and their no-JavaScript twins."""

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect


def modal_done(
    request: HttpRequest, *, event: str, text: str, redirect_to: str, leave_page: bool = False
) -> HttpResponse:
    """After a successful submit: with htmx, an empty 204 whose HX-Trigger closes the modal,
    shows a toast and fires `event` (the list refreshes itself); without, a redirect.

    `leave_page` (a deleted object's own page) sends the htmx browser to `redirect_to` too.
    """
    if request.htmx and not leave_page:
        response = HttpResponse(status=204)
        # json.dumps escapes non-ASCII, so Russian toasts survive the latin-1 header.
        response["HX-Trigger"] = json.dumps(
            {
                event: None,
                "closeModal": None,
                "showMessage": {"text": str(text), "level": "success"},
            }
        )
        return response
    messages.success(request, text)
    if request.htmx:
        return HttpResponseClientRedirect(redirect_to)
    return redirect(redirect_to)


def partial_for(request: HttpRequest, template: str, partial: str) -> str:
    """The template to render: one partial of it for htmx, the whole page otherwise.

    A history-restore request (Back after the cache was evicted) needs the whole page.
    """
    if request.htmx and not request.htmx.history_restore_request:
        return f"{template}#{partial}"
    return template


def is_on_page(request: HttpRequest, path: str) -> bool:
    """Whether the htmx request was sent from the page at `path`."""
    return bool(request.htmx) and request.htmx.current_url_abs_path == path
