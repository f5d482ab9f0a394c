"""Answers to forms shown in the base page's shared modal, and their no-JavaScript twins.

A successful submit says what it did with `messages.success` (the htmx middleware turns it into
a toast) and answers htmx with an empty 204, which closes the modal (app.js), firing
`<noun>ListChanged` so the lists and the object's page refresh themselves. Without JavaScript
the same submit redirects, and the next page shows the message.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event


def modal_saved(request: HttpRequest, *, noun: str, pk: int, text: str) -> HttpResponse:
    """After a successful create or edit of the `noun` numbered `pk`; a plain browser goes to
    the object's page."""
    return _done(request, noun=noun, text=text, redirect_to=reverse(f"{noun}-detail", args=[pk]))


def modal_deleted(request: HttpRequest, *, noun: str, pk: int, text: str) -> HttpResponse:
    """After a delete; a plain browser goes to the list, and so does an htmx one whose page was
    the deleted object's own."""
    leave_page = is_on_page(request, reverse(f"{noun}-detail", args=[pk]))
    return _done(
        request, noun=noun, text=text, redirect_to=reverse(f"{noun}-list"), leave_page=leave_page
    )


def _done(
    request: HttpRequest, *, noun: str, text: str, redirect_to: str, leave_page: bool = False
) -> HttpResponse:
    messages.success(request, text)
    if request.htmx and not leave_page:
        return trigger_client_event(HttpResponse(status=204), f"{noun}ListChanged")
    if request.htmx:
        return HttpResponseClientRedirect(redirect_to)
    return redirect(redirect_to)


def modal_form(
    request: HttpRequest, *, noun: str, form, obj, title: str, **context
) -> TemplateResponse:
    """The create or edit form of a `noun` (`obj`, None for a new one) under `title`, its
    fields from core/<noun>/form.html, with `context`: the whole page, or for htmx the
    `object-form` partial, which the modal shows."""
    template = partial_for(request, "core/object_form.html", "object-form")
    context |= {"noun": noun, "form": form, "object": obj, "title": title}
    return TemplateResponse(request, template, {"body": f"core/{noun}/form.html", **context})


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
