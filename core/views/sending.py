"""Sending a mailing now, from its page; and a test of a message, to its author alone."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_htmx.http import trigger_client_event

from core import selectors
from core.services import sending


def mailing_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a run of the mailing now and let a detached sender send it; never waits on SMTP.

    The toast says how many recipients it sends to (a warning when nobody); htmx gets an empty
    answer whose HX-Trigger also says `mailingSent`, a plain form post goes to the mailing's page.
    """
    # Looked up before the method check: another user's mailing is a 404 whatever the method.
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])

    attempt = sending.mailing_send_start(mailing=mailing)
    transaction.on_commit(lambda: sending.mailing_start_detached(attempt_id=attempt.pk))
    count = attempt.pending_count
    text = ngettext(
        "Sending to %(count)d recipient.", "Sending to %(count)d recipients.", count
    ) % {"count": count}
    messages.add_message(request, messages.SUCCESS if count else messages.WARNING, text)

    if request.htmx:
        sent = {"mailing": mailing.pk, "attempt": attempt.pk}
        return trigger_client_event(HttpResponse(status=204), "mailingSent", sent)
    return redirect("mailing-detail", pk=mailing.pk)


def message_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the message, personalised for the user, to the signed-in user's own address only.

    One letter through the engine's SMTP path, waited for (at most EMAIL_TIMEOUT per step): no
    run, no ledger line, nothing counted. The toast says where it went or why it did not; htmx
    gets an empty answer, a plain form post goes back to the page it came from (`next`).
    """
    message = get_object_or_404(selectors.message_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])

    result = sending.message_send_test(message=message, user=request.user)
    if result.accepted:
        messages.success(
            request,
            _("Test letter sent to %(email)s.") % {"email": request.user.email},
        )
    else:
        messages.error(
            request,
            _("The test letter to %(email)s did not go: %(reply)s")
            % {"email": request.user.email, "reply": result.reply},
        )

    if request.htmx:
        return HttpResponse(status=204)
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("message-detail", pk=message.pk)
