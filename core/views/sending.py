"""Sending a mailing now, from its page."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
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
