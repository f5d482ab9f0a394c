"""The recipient's way out: the unsubscribe link of every letter, and its one-click twin.

No login: the signed token in the URL names the client. A GET only shows a page with a
button, because mail scanners and link previews fetch every link of a letter; the button, or
the mailbox provider's one-click POST (RFC 8058), unsubscribes. The view is exempt from CSRF
because the provider posts from its own servers, with no cookie or token of ours; the signed
token is what proves the request comes from the letter.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.models import Client
from core.services import suppression

# The body a mailbox provider posts for one-click unsubscribe (RFC 8058).
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: ask. POST: unsubscribe (the button or one-click), or undo it (`action=resubscribe`)."""
    client = suppression.client_for_token(token)
    if client is None:
        raise Http404
    now = timezone.now()
    if request.method == "POST":
        if request.POST.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE:
            suppression.client_unsubscribe(
                client=client, source=Client.UnsubscribeSource.ONE_CLICK, now=now
            )
            # The provider reads only the status; a person never sees this answer.
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
        if request.POST.get("action") == "resubscribe":
            suppression.client_resubscribe(client=client, now=now)
        else:
            suppression.client_unsubscribe(
                client=client, source=Client.UnsubscribeSource.LINK, now=now
            )
        client.refresh_from_db()
    sender = client.owner.sender_name or client.owner.full_name or client.owner.email
    context = {"client": client, "sender": sender, "done": request.method == "POST"}
    response = TemplateResponse(request, "core/unsubscribe.html", context)
    # The token is a key to this client's subscription: keep it out of caches and referrers.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
