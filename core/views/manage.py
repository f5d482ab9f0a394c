"""The manager's pages under /manage/: every user, every mailing, the acts, the audit log.

Each view first asks core.permissions (the decorator) and runs only if the matrix allows.
Nothing here edits or deletes another user's clients, messages or mailings, or shows a
message's body: a mailing is seen through its facts, runs and report, and changed only by
being disabled or enabled. Every act is a service of core.services.administration, which
writes its audit entry.
"""

from collections.abc import Callable

import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from core import selectors
from core.filters import AuditEntryFilter, MailingOversightFilter, UserOverviewFilter
from core.forms import QuotaForm, ReasonForm
from core.models import AuditEntry, User
from core.permissions import Action, permission_required
from core.services import administration
from core.tables import AuditEntryTable, MailingOversightTable, UserOverviewTable
from core.views.lists import list_response
from core.views.modal import partial_for

# The manager's page of a mailing shows its latest runs; the report counts them all.
ATTEMPTS_SHOWN = 50


@permission_required(Action.OVERSEE)
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    """Every user with their clients, mailings, letters sent over 30 days, last sign-in and
    whether they are blocked: one query for the page, whatever it holds."""
    queryset = selectors.user_overview(now=timezone.now())
    filterset = UserOverviewFilter(request.GET, queryset=queryset)
    return _list_response(
        request, filterset, UserOverviewTable, noun="user", heading=_("Users"), tab="users"
    )


@permission_required(Action.OVERSEE)
@require_GET
def mailing_list(request: HttpRequest) -> HttpResponse:
    """Every user's mailings with their owner, filtered by owner, status and disabled."""
    filterset = MailingOversightFilter(request.GET, queryset=selectors.mailing_oversight_list())
    return _list_response(
        request,
        filterset,
        MailingOversightTable,
        noun="mailing",
        heading=_("Every mailing"),
        tab="mailings",
    )


@permission_required(Action.OVERSEE)
@require_GET
def mailing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A mailing as its owner's page shows it, read-only: its facts, its runs, its report."""
    mailing = get_object_or_404(selectors.mailing_oversight_list(), pk=pk)
    context = {
        "mailing": mailing,
        "recipient_count": selectors.mailing_recipients(mailing=mailing).count(),
        "attempts": mailing.attempts.all()[:ATTEMPTS_SHOWN],
    }
    template = partial_for(request, "core/manage/mailing_detail.html", "mailing-facts")
    return TemplateResponse(request, template, context)


@permission_required(Action.OVERSEE)
@require_GET
def mailing_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's report of a mailing, for a manager: the fragment for htmx, a page otherwise."""
    mailing = get_object_or_404(selectors.mailing_oversight_list(), pk=pk)
    report = selectors.mailing_report(mailing=mailing)
    context = {
        "mailing": mailing,
        "report": report,
        # The open run holding the waiting letters, if any: when they are tried again.
        "waiting_run": report.open_run,
        "embedded": bool(request.htmx),
    }
    template = partial_for(request, "core/mailing/report.html", "mailing-report")
    return TemplateResponse(request, template, context)


@permission_required(Action.READ_AUDIT)
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, filtered by action."""
    queryset = AuditEntry.objects.select_related("actor")
    filterset = AuditEntryFilter(request.GET, queryset=queryset)
    return _list_response(
        request, filterset, AuditEntryTable, noun="audit", heading=_("Audit log"), tab="audit"
    )


def _list_response(
    request: HttpRequest,
    filterset,
    table_class: type[tables.Table],
    *,
    noun: str,
    heading: str,
    tab: str,
) -> TemplateResponse:
    """A manager's list under `heading`: the owner's list page without its create button, under
    the manager's tabs (`tab` is the one shown), its filter bar asking `manage-<noun>-list`."""
    return list_response(
        request,
        filterset,
        table_class,
        noun=noun,
        heading=heading,
        list_url=reverse(f"manage-{noun}-list"),
        above="core/manage/nav.html",
        current=tab,
    )


# --- The acts: a form in the shared modal, always with a reason.


def _act(
    request: HttpRequest,
    *,
    form,
    perform: Callable[[], AuditEntry],
    done: str,
    noun: str,
    back_to: str,
    context: dict,
) -> HttpResponse:
    """Show `form`; once valid, `perform` the act and say `done`.

    An htmx submit answers 204 (which closes the modal) firing `<noun>ListChanged`, so the
    table or page behind refreshes; a plain one goes `back_to` its page. An act the service
    refuses (block yourself, disable twice) is an error at the top of the form.
    """
    if request.method == "POST" and form.is_valid():
        try:
            perform()
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, done)
            if request.htmx:
                return trigger_client_event(HttpResponse(status=204), f"{noun}ListChanged")
            return redirect(back_to)
    template = partial_for(request, "core/manage/act_form.html", "act-form")
    return TemplateResponse(
        request, template, {"form": form, "back_to": back_to, "noun": noun, **context}
    )


@permission_required(Action.BLOCK_USER)
@require_http_methods(["GET", "POST"])
def user_block(request: HttpRequest, pk: int) -> HttpResponse:
    """Block a user, with a reason: no sign-in, signed out, their runs stop, nothing sent."""
    user = get_object_or_404(User, pk=pk)
    form = ReasonForm(request.POST or None)
    return _act(
        request,
        form=form,
        perform=lambda: administration.user_block(
            actor=request.user,
            user=user,
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
        ),
        done=_("%(email)s is blocked.") % {"email": user.email},
        noun="user",
        back_to=reverse("manage-user-list"),
        context={
            "title": _("Block %(email)s") % {"email": user.email},
            "intro": _(
                "They will not be able to sign in, are signed out now, their runs in "
                "progress stop and none of their mailings sends anything until unblocked."
            ),
            "submit_label": _("Block"),
            "submit_class": "btn-danger",
        },
    )


@permission_required(Action.BLOCK_USER)
@require_http_methods(["GET", "POST"])
def user_unblock(request: HttpRequest, pk: int) -> HttpResponse:
    """Unblock a user, with a reason."""
    user = get_object_or_404(User, pk=pk)
    form = ReasonForm(request.POST or None)
    return _act(
        request,
        form=form,
        perform=lambda: administration.user_unblock(
            actor=request.user, user=user, reason=form.cleaned_data["reason"]
        ),
        done=_("%(email)s is unblocked.") % {"email": user.email},
        noun="user",
        back_to=reverse("manage-user-list"),
        context={
            "title": _("Unblock %(email)s") % {"email": user.email},
            "intro": _("Blocked because: %(reason)s") % {"reason": user.blocked_reason},
            "submit_label": _("Unblock"),
        },
    )


@permission_required(Action.SET_QUOTA)
@require_http_methods(["GET", "POST"])
def user_quota(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a user's daily letter quota, with a reason; empty is the service's default."""
    user = get_object_or_404(User, pk=pk)
    form = QuotaForm(request.POST or None, initial={"daily_quota": user.daily_quota})
    return _act(
        request,
        form=form,
        perform=lambda: administration.user_set_quota(
            actor=request.user,
            user=user,
            quota=form.cleaned_data["daily_quota"],
            reason=form.cleaned_data["reason"],
        ),
        done=_("The daily quota of %(email)s is changed.") % {"email": user.email},
        noun="user",
        back_to=reverse("manage-user-list"),
        context={
            "title": _("Daily quota of %(email)s") % {"email": user.email},
            "submit_label": _("Save"),
        },
    )


@permission_required(Action.DISABLE_MAILING)
@require_http_methods(["GET", "POST"])
def mailing_disable(request: HttpRequest, pk: int) -> HttpResponse:
    """Disable a mailing, with a reason: its run in progress stops and it sends nothing."""
    mailing = get_object_or_404(selectors.mailing_oversight_list(), pk=pk)
    form = ReasonForm(request.POST or None)
    return _act(
        request,
        form=form,
        perform=lambda: administration.mailing_disable(
            actor=request.user,
            mailing=mailing,
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
        ),
        done=_("Mailing “%(mailing)s” is disabled.") % {"mailing": mailing.name},
        noun="mailing",
        back_to=reverse("manage-mailing-detail", args=[mailing.pk]),
        context={
            "title": _("Disable “%(mailing)s”") % {"mailing": mailing.name},
            "intro": _(
                "Its run in progress stops and it sends nothing until enabled. Its message, "
                "clients and schedule stay as the owner left them."
            ),
            "submit_label": _("Disable"),
            "submit_class": "btn-danger",
        },
    )


@permission_required(Action.DISABLE_MAILING)
@require_http_methods(["GET", "POST"])
def mailing_enable(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable a disabled mailing again, with a reason."""
    mailing = get_object_or_404(selectors.mailing_oversight_list(), pk=pk)
    form = ReasonForm(request.POST or None)
    return _act(
        request,
        form=form,
        perform=lambda: administration.mailing_enable(
            actor=request.user,
            mailing=mailing,
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
        ),
        done=_("Mailing “%(mailing)s” is enabled.") % {"mailing": mailing.name},
        noun="mailing",
        back_to=reverse("manage-mailing-detail", args=[mailing.pk]),
        context={
            "title": _("Enable “%(mailing)s”") % {"mailing": mailing.name},
            "intro": _("Disabled because: %(reason)s") % {"reason": mailing.disabled_reason},
            "submit_label": _("Enable"),
        },
    )
