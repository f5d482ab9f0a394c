"""Middleware of the service's own: Django messages told to htmx (in its HX-Trigger header),
the signed-in user's time zone made active, sign-in for an htmx request that lost its session,
and the privacy headers."""

import json
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

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


class HtmxSignInMiddleware:
    """An htmx request refused for want of a session or a valid CSRF token (the sign-in
    redirect, 401, 403) leaves the page for sign-in, and comes back to it afterwards.

    Swapped into the modal or a table, the sign-in page would be nonsense and lose what the
    user typed; instead `HX-Redirect` sends the whole tab to sign-in with `?next=` the page the
    user was on (HX-Current-URL), not the fragment's URL.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or "HX-Redirect" in response:
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        to_sign_in = response.status_code in (301, 302) and (
            urlsplit(response.get("Location", "")).path == login_url
        )
        sign_in = f"{login_url}?{urlencode({'next': page_of(request)})}"
        if to_sign_in:  # A redirect would be followed by the browser, unseen by htmx.
            return HttpResponseClientRedirect(sign_in)
        if response.status_code in (401, 403):  # htmx follows HX-Redirect whatever the status.
            response["HX-Redirect"] = sign_in
        return response


def page_of(request: HttpRequest) -> str:
    """The path of the page an htmx request was sent from (HX-Current-URL), if it is on this
    site; else the home page."""
    current = request.headers.get("HX-Current-URL", "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return resolve_url("home")


class PrivacyHeadersMiddleware:
    """Permissions-Policy on every answer (settings.PERMISSIONS_POLICY), and `no-store` on
    every answer to a signed-in user (their pages, the report CSV), so that no shared or
    browser cache keeps a copy of their clients' data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
