"""Mailings: list, detail with its attempts, and the create/edit/delete forms in the modal."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from core import selectors
from core.filters import MailingFilter
from core.forms import MailingForm
from core.models import Attempt, Mailing
from core.services.scheduling import mailing_schedule
from core.services.sending.tally import mailings_delete
from core.tables import MailingRecipientTable, MailingTable, mailing_hold_badges
from core.views.details import detail_response
from core.views.lists import TableConfig, list_response
from core.views.modal import modal_deleted, modal_form, modal_saved, partial_for
from core.views.previews import chosen_client, letter_context

# The detail page shows the latest runs; older ones stay in the database and the reports.
ATTEMPTS_SHOWN = 50
# Recipients listed a page at a time below the details.
RECIPIENTS_PER_PAGE = 25


@require_GET
def mailing_list(request: HttpRequest) -> HttpResponse:
    """The user's mailings, filtered, sorted and paged; htmx gets only the table section."""
    queryset = selectors.mailing_list(user=request.user).annotate(
        recipient_count=selectors.recipient_count_subquery()
    )
    filterset = MailingFilter(request.GET, queryset=queryset, request=request)
    now = timezone.now()
    liveness = selectors.mailings_liveness(
        mailings=selectors.mailing_list(user=request.user), now=now
    )
    return list_response(
        request,
        filterset,
        MailingTable,
        noun="mailing",
        heading=_("Mailings"),
        create_label=_("New mailing"),
        empty_label=_("Create your first mailing"),
        tom_select=True,  # the mailing form opens here in the modal
        # The table polls while a run of any mailing is due or open, and asks once more when
        # the next one becomes due; otherwise nothing changes it by itself.
        poll=liveness.live,
        refresh_in=liveness.refresh_in(now=now),
    )


@require_GET
def mailing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A mailing: its message, recipients, schedule and status, and its latest attempts."""
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    attempts = _attempts_context(mailing)
    recipients = MailingRecipientTable(
        selectors.mailing_recipients(mailing=mailing).order_by("email")
    )
    TableConfig(request, paginate={"per_page": RECIPIENTS_PER_PAGE}).configure(recipients)
    return detail_response(
        request,
        noun="mailing",
        obj=mailing,
        heading=mailing.name,
        list_title=_("Mailings"),
        # The details also refresh when a run of this mailing ended.
        refresh_on="mailingListChanged from:body, mailingRunFinished from:body",
        actions="core/mailing/send_button.html",
        after="core/mailing/detail.html#mailing-runs",
        tom_select=True,  # the mailing form opens here in the modal
        mailing=mailing,
        recipient_count=recipients.paginator.count,
        recipients=recipients,
        hold_badges=mailing_hold_badges(mailing),
        # When it last went out, and whether a run is open (running, or waiting to resume):
        # then Stop shows, and "Send now" would start nothing.
        last_run=attempts["attempts"][0] if attempts["attempts"] else None,
        open_run=any(a.status == Attempt.Status.RUNNING for a in attempts["attempts"]),
        **attempts,
    )


@require_GET
def mailing_attempts(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the attempts section of a mailing's page, for htmx to refresh while a run goes on.

    The section polls while a run is in progress; the answer that finds no run left in
    progress fires `mailingRunFinished`, so the details and the report refresh once.
    """
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    context = {"mailing": mailing, **_attempts_context(mailing)}
    response = TemplateResponse(request, "core/mailing/detail.html#mailing-attempts", context)
    # A poll that finds a run begun or ended since the last one (`seen`) tells the details and
    # the report to refresh; a poll that sees the same run as before does not.
    if request.GET.get("polling") and request.GET.get("seen") != context["runs_state"]:
        trigger_client_event(response, "mailingRunFinished")
    return response


def _attempts_context(mailing: Mailing) -> dict:
    """The latest runs, and whether the runs section polls: while a run is being sent or is
    due (its next run has come, or a waiting run's resume time has), and once more when the
    next becomes due."""
    attempts = list(mailing.attempts.all()[:ATTEMPTS_SHOWN])
    now = timezone.now()
    held = mailing.paused_at is not None or mailing.disabled_at is not None
    sending_now = any(
        attempt.status == Attempt.Status.RUNNING and not attempt.is_waiting_to_resume
        for attempt in attempts
    )
    waiting = [a.resume_at for a in attempts if a.is_waiting_to_resume]
    due = [] if held else [m for m in [mailing.next_run_at, *waiting] if m is not None]
    live = sending_now or any(moment <= now for moment in due)
    upcoming = [moment for moment in due if moment > now]
    refresh_in = None
    if not live and upcoming:
        refresh_in = selectors.Liveness(live=False, changes_at=min(upcoming)).refresh_in(now=now)
    latest = attempts[0] if attempts else None
    return {
        "attempts": attempts,
        "run_in_progress": live,
        "refresh_in": refresh_in,
        # What the page shows of the runs, to tell a poll whether anything began or ended.
        "runs_state": f"{latest.pk}-{latest.status}-{latest.resume_at is not None}"
        if latest
        else "none",
    }


@require_http_methods(["GET", "POST"])
def mailing_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new mailing of one of the user's messages to some of the user's clients, or an edit
    of mailing `pk`, which is scheduled again from its new window."""
    mailings = selectors.mailing_list(user=request.user)
    mailing = None if pk is None else get_object_or_404(mailings, pk=pk)
    form = MailingForm(
        request.POST or None,
        instance=mailing,
        owner=request.user,
        search_url=reverse("client-search"),
        now=timezone.now(),
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
        # After the commit: scheduling may start sending at once, which must see the saved rows.
        mailing_schedule(mailing=saved, now=timezone.now())
        text = _("Mailing “%(mailing)s” saved.") % {"mailing": saved.name}
        return modal_saved(request, noun="mailing", pk=saved.pk, text=text)
    context = {"hint": "mailing", "tom_select": True}
    if mailing is not None:
        # The live preview starts from the saved message, as the first recipient receives it.
        first = selectors.mailing_recipients(mailing=mailing).order_by("email").first()
        client = first or chosen_client(user=request.user, pk=None)
        context |= letter_context(message=mailing.message, user=request.user, client=client)
    title = _("Edit mailing") if mailing else _("New mailing")
    return modal_form(request, noun="mailing", form=form, obj=mailing, title=title, **context)


@require_http_methods(["GET", "POST"])
def mailing_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a mailing together with its attempts and their ledger."""
    mailing = get_object_or_404(selectors.mailing_list(user=request.user), pk=pk)
    if request.method == "POST":
        mailings_delete(ids=[mailing.pk])
        text = _("Mailing “%(mailing)s” deleted.") % {"mailing": mailing.name}
        return modal_deleted(request, noun="mailing", pk=pk, text=text)
    template = partial_for(request, "core/mailing/confirm_delete.html", "mailing-confirm-delete")
    return TemplateResponse(request, template, {"object": mailing})
