"""Django messages told to htmx (an htmx answer carries them in its HX-Trigger header), and
the signed-in user's time zone made active."""

import json
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.models import zone_or_default

# Answers with which htmx leaves the page: their messages wait for the next page to show them.
LEAVING_HEADERS = ("HX-Redirect", "HX-Location", "HX-Refresh")


class HtmxMessagesMiddleware:
    """For an htmx answer, move the request's pending messages into HX-Trigger as `showMessage`.

    Views only call `messages.success(...)` and the like: a full page shows the messages
    itself (base.html), and app.js shows a `showMessage` event as toasts. One message is an
    object `{"text": ..., "level": ...}`, several a list of them; the events the view already
    set stay in the header. A redirect keeps its messages for the page it leads to.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        redirect = 300 <= response.status_code < 400
        if not request.htmx or redirect or any(h in response for h in LEAVING_HEADERS):
            return response
        storage = messages.get_messages(request)
        if storage.used:  # The page itself showed them (a full page asked for by htmx).
            return response
        toasts = [{"text": str(message), "level": message.level_tag} for message in storage]
        if toasts:
            triggers = _triggers(response.headers.get("HX-Trigger"))
            triggers["showMessage"] = toasts[0] if len(toasts) == 1 else toasts
            # HX-Trigger is a latin-1 header: escaped to ASCII, a Russian toast survives it.
            response.headers["HX-Trigger"] = json.dumps(triggers, ensure_ascii=True)
        return response


def _triggers(header: str | None) -> dict:
    """The events an HX-Trigger header already names: JSON, or a plain comma-separated list."""
    if not header:
        return {}
    try:
        triggers = json.loads(header)
    except json.JSONDecodeError:
        triggers = None
    if isinstance(triggers, dict):
        return triggers
    return {name.strip(): None for name in header.split(",") if name.strip()}


class UserTimeZoneMiddleware:
    """Show and read every date of a signed-in user's request in their own time zone.

    Django converts aware datetimes to the active zone when a template shows them and reads
    form input in it; signed out, the service's TIME_ZONE applies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone_or_default(user.time_zone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
