"""Sending a mailing now, pausing, resuming and stopping it, from its page; and a test of a
message, to its author alone.

"Send now" and "Stop" ask first: a post without `confirmed` answers the confirmation (in the
shared modal for htmx, a page of its own without JavaScript), whose form posts it again with
`confirmed`, as the admin's delete action does.
"""

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_htmx.http import trigger_client_event

from core import selectors
from core.models import Attempt, Mailing
from core.outcomes import outcome_text
from core.services import scheduling, sending
from core.views.modal import partial_for


def mailing_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Once confirmed, open a run of the mailing now and let a detached sender send it; never
    waits on SMTP.

    The toast says how many recipients it sends to (a warning when nobody), or why nothing
    started (a run of it is still open, it is paused or disabled); htmx gets an empty answer
    whose HX-Trigger also says `mailingSent`, a plain form post goes to the mailing's page.
    """
    # Looked up before the method check: another user's mailing is a 404 whatever the method.
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.POST.get("confirmed"):
        return _confirmation(request, mailing, action="send")

    try:
        with transaction.atomic():  # the run and the task that sends it commit together
            attempt = sending.mailing_send_start(mailing=mailing)
            sending.mailing_send_enqueue(attempt_id=attempt.pk)
    except sending.SendRefused as refusal:
        messages.warning(request, str(refusal))
        return _done(request, mailing, changed=False)
    count = attempt.pending_count
    text = ngettext(
        "Sending to %(count)d recipient.", "Sending to %(count)d recipients.", count
    ) % {"count": count}
    # Not green: nothing is accepted yet, and with the mail server down nothing may be.
    messages.add_message(request, messages.INFO if count else messages.WARNING, text)

    if request.htmx:
        sent = {"mailing": mailing.pk, "attempt": attempt.pk}
        response = trigger_client_event(HttpResponse(status=204), "mailingSent", sent)
        # The details refresh too: they show the run that is now open, and its Stop button.
        return trigger_client_event(response, "mailingListChanged")
    return redirect("mailing-detail", pk=mailing.pk)


def mailing_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Once confirmed, stop the mailing's open run: letters in flight finish, the rest stay
    pending, and the run ends as stopped within about a second; it is not resumed."""
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.POST.get("confirmed"):
        return _confirmation(request, mailing, action="stop")

    asked = sending.attempts_request_stop(
        attempts=Attempt.objects.filter(mailing=mailing), now=timezone.now()
    )
    if asked:
        messages.success(request, _("The run is stopping; letters already going out finish."))
    else:
        messages.warning(request, _("No run of this mailing is open."))
    return _done(request, mailing, changed=bool(asked))


def mailing_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause the mailing: no new run until it is resumed, and its open run stops."""
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])

    if scheduling.mailing_pause(mailing=mailing, now=timezone.now()):
        messages.success(request, _("Mailing paused: nothing is sent until you resume it."))
    else:
        messages.info(request, _("The mailing is paused already."))
    return _done(request, mailing)


def mailing_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Resume a paused mailing from its next slot; the slots it missed are not sent."""
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])

    if scheduling.mailing_resume(mailing=mailing, now=timezone.now()):
        messages.success(request, _("Mailing resumed: it goes on from its next run."))
    else:
        messages.info(request, _("The mailing is not paused."))
    return _done(request, mailing)


def _confirmation(request: HttpRequest, mailing: Mailing, *, action: str) -> TemplateResponse:
    """The question before "Send now" or "Stop": the modal's content for htmx, else a page."""
    template = partial_for(request, "core/mailing/confirm.html", "mailing-confirm")
    context = {
        "object": mailing,
        "action": action,
        "recipient_count": selectors.mailing_recipients(mailing=mailing).count(),
        "last_run": mailing.attempts.order_by("-attempted_at").first(),
    }
    return TemplateResponse(request, template, context)


def _done(request: HttpRequest, mailing: Mailing, *, changed: bool = True) -> HttpResponse:
    """After an action on the mailing's page: htmx gets an empty answer (it closes the modal)
    that fires `mailingListChanged` and `mailingSent`, so the details and the runs refresh;
    a plain form post goes back to the page."""
    if request.htmx:
        response = HttpResponse(status=204)
        if changed:
            trigger_client_event(response, "mailingListChanged")
            trigger_client_event(response, "mailingSent", {"mailing": mailing.pk})
        return response
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
            % {"email": request.user.email, "reply": outcome_text(result.reply)},
        )

    if request.htmx:
        return HttpResponse(status=204)
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("message-detail", pk=message.pk)
