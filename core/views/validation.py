"""Live validation: the real form runs on one field, and only that field's errors come back."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from core import selectors
from core.forms import ClientForm
from core.models import parse_object_id


@require_POST
def client_email(request: HttpRequest) -> HttpResponse:
    """The errors of the client form's email (format, already among the user's clients).

    A POST (with the CSRF token), so that clients' addresses stay out of URLs and access logs.
    `?pk=` names the client being edited, whose own email is not a duplicate. The answer is the
    error element alone: the input the user is typing in is never replaced.
    """
    client = None
    if pk := request.GET.get("pk"):
        if (client_id := parse_object_id(pk)) is None:
            raise Http404
        client = get_object_or_404(selectors.client_list(user=request.user), pk=client_id)
    form = ClientForm(request.POST, instance=client, owner=request.user)
    form.is_valid()
    return TemplateResponse(request, "core/client/form.html#client-email-errors", {"form": form})
