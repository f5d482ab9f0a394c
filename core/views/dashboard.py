"""The home page: what the signed-in user's mailings are doing."""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from core import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the signed-in user."""
    user = request.user
    context = {
        "client_count": selectors.client_list(user=user).count(),
        "message_count": selectors.message_list(user=user).count(),
        "mailing_count": selectors.mailing_list(user=user).count(),
    }
    return TemplateResponse(request, "core/dashboard.html", context)
