"""The signed-in user's own settings: the sender profile of their letters."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.forms import SenderProfileForm


@require_http_methods(["GET", "POST"])
def sender_profile(request: HttpRequest) -> HttpResponse:
    """The sender name, reply-to and From address of the user's letters, and how the From and
    Reply-To of a letter read with them."""
    form = SenderProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Sender profile saved."))
        return redirect("sender-profile")
    return TemplateResponse(request, "core/profile/sender.html", {"form": form})
