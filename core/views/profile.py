"""The signed-in user's own settings: the sender profile of their letters."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.forms import SenderProfileForm
from core.services.sending.identity import sender_identity


@require_http_methods(["GET", "POST"])
def sender_profile(request: HttpRequest) -> HttpResponse:
    """The sender name, reply-to and From address of the user's letters, and how the From and
    Reply-To of a letter read with them."""
    # Read before the form runs: validating writes the typed values onto the user object.
    identity = sender_identity(user=request.user)
    form = SenderProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Sender profile saved."))
        return redirect("sender-profile")
    context = {"form": form, "identity": identity, "user_email": request.user.email}
    return TemplateResponse(request, "core/profile/sender.html", context)
