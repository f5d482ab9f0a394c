"""A refused form's page: Django's 404, 403, 400 and 500 handlers already render the
templates of the same names (templates/404.html...), which carry the site's layout."""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent with a stale or missing token (an old tab, a session that
    ended) gets a page that says what to do, in the site's layout; an htmx request is sent to
    sign-in instead (core.middleware.HtmxSignInMiddleware)."""
    response = TemplateResponse(request, "403_csrf.html", status=403)
    return response.render()
