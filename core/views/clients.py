"""Clients: list, detail, the create/edit/delete forms shown in the modal, the bulk actions
on the selected (or all filtered) clients, and the export of the filtered list."""

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from core import selectors
from core.filters import ClientFilter
from core.forms import ClientBulkForm, ClientForm
from core.models import Client, parse_object_id
from core.services import clients as client_actions
from core.services import exports
from core.services.tags import tags_ensure
from core.tables import ClientTable
from core.views.details import detail_response
from core.views.lists import list_response
from core.views.modal import modal_deleted, modal_form, modal_saved, partial_for


@require_GET
def client_list(request: HttpRequest) -> HttpResponse:
    """The user's clients, filtered, sorted and paged; htmx gets only the table section."""
    # The table reads the page's tags itself (ClientTable.prepare_page): one query.
    clients = selectors.client_list(user=request.user)
    filterset = ClientFilter(request.GET, queryset=clients, request=request)
    return list_response(
        request,
        filterset,
        ClientTable,
        noun="client",
        heading=_("Clients"),
        create_label=_("New client"),
        tom_select=True,  # the client form's tags, opened here in the modal
        bulk="core/client/bulk_bar.html",
        header_actions="core/client/import_actions.html",
        empty_label=_("Add your first client"),
        empty_actions="core/client/empty_actions.html",
    )


@require_GET
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One client and the mailings that send to it."""
    client = get_object_or_404(selectors.client_list(user=request.user), pk=pk)
    mailings = client.mailings.select_related("message")
    return detail_response(
        request,
        noun="client",
        obj=client,
        heading=client.full_name,
        list_title=_("Clients"),
        tom_select=True,  # the client form's tags, opened here in the modal
        mailings=mailings,
    )


@require_http_methods(["GET", "POST"])
def client_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new client, or an edit of client `pk`; a duplicate email is an error next to the
    field, but a client's own email is never reported as one."""
    clients = selectors.client_list(user=request.user)
    client = None if pk is None else get_object_or_404(clients, pk=pk)
    form = ClientForm(request.POST or None, instance=client, owner=request.user)
    if request.method == "POST" and form.is_valid() and (saved := _save(form)):
        text = _("Client %(email)s saved.") % {"email": saved.email}
        return modal_saved(request, noun="client", pk=saved.pk, text=text)
    validate_email_url = reverse("client-validate-email")
    if client is not None:
        validate_email_url += f"?pk={client.pk}"
    title = _("Edit client") if client else _("New client")
    return modal_form(
        request,
        noun="client",
        form=form,
        obj=client,
        title=title,
        validate_email_url=validate_email_url,
        tom_select=True,
    )


def _save(form: ClientForm) -> Client | None:
    """Save the form; a concurrent insert of the same email becomes a form error, not a 500."""
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        # The unique constraint had the last word: the same email was saved in the meantime.
        duplicates = selectors.client_list(user=form.owner).filter(email=form.instance.email)
        if not duplicates.exclude(pk=form.instance.pk).exists():
            raise
        form.add_duplicate_email_error()
        return None


@require_http_methods(["GET", "POST"])
def client_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a client; past deliveries keep the address they were sent to."""
    client = get_object_or_404(selectors.client_list(user=request.user), pk=pk)
    if request.method == "POST":
        client.delete()
        text = _("Client %(email)s deleted.") % {"email": client.email}
        return modal_deleted(request, noun="client", pk=pk, text=text)
    template = partial_for(request, "core/client/confirm_delete.html", "client-confirm-delete")
    return TemplateResponse(request, template, {"object": client})


SEARCH_RESULTS = 20


@require_GET
def client_search(request: HttpRequest) -> JsonResponse:
    """The user's clients whose email, name or comment contains `q` in any case, for the
    mailing form's picker."""
    clients = selectors.clients_matching(
        selectors.client_list(user=request.user), text=request.GET.get("q", "")
    )
    found = clients.order_by("email")[:SEARCH_RESULTS]
    return JsonResponse({"results": [{"value": c.pk, "text": str(c)} for c in found]})


def _filtered(request: HttpRequest, data: QueryDict) -> QuerySet[Client] | None:
    """The user's clients that the list's filter `data` lets through; None if the filter is
    malformed (acting on more clients than the user saw must never happen)."""
    filterset = ClientFilter(
        data, queryset=selectors.client_list(user=request.user), request=request
    )
    return filterset.qs if filterset.is_valid() else None


def _selection(request: HttpRequest) -> QuerySet[Client] | None:
    """The clients a bulk form names: every one matching the list's filter (`scope=matching`,
    with the filter's query string in `filter`), or the ticked rows (`pk`); always the user's
    own. None for a malformed filter."""
    if request.POST.get("scope") == "matching":
        return _filtered(request, QueryDict(request.POST.get("filter", "")))
    ids = {pk for pk in map(parse_object_id, request.POST.getlist("pk")) if pk is not None}
    return selectors.client_list(user=request.user).filter(pk__in=ids)


@require_POST
def client_bulk(request: HttpRequest) -> HttpResponse:
    """A bulk action (tag, untag, add to a mailing, delete) on the selected clients: first the
    confirmation in the modal, which says how many clients (and for a delete, which mailings
    lose them); confirmed, the action in one transaction."""
    action = request.POST.get("action", "")
    if action not in ClientBulkForm.ACTIONS:
        return HttpResponseBadRequest(_("Unknown action."))
    clients = _selection(request)
    if clients is None:
        return HttpResponseBadRequest(_("The filter is not valid."))
    confirmed = request.POST.get("confirm") == "1"
    form = ClientBulkForm(request.POST if confirmed else None, owner=request.user, action=action)
    count = clients.count()
    if confirmed and count and form.is_valid():
        with transaction.atomic():
            text = _bulk_apply(request, action, clients, form.cleaned_data)
        messages.success(request, text)
        if request.htmx:
            return trigger_client_event(HttpResponse(status=204), "clientListChanged")
        return redirect(reverse("client-list") + _list_query(request))
    context = {
        "form": form,
        "action": action,
        "title": ClientBulkForm.ACTIONS[action],
        "count": count,
        "selection": {
            "scope": request.POST.get("scope", ""),
            "filter": request.POST.get("filter", ""),
            "pks": request.POST.getlist("pk"),
        },
        "cancel_url": reverse("client-list") + _list_query(request),
        "blocked": not count,
    }
    if action == ClientBulkForm.DELETE:
        mailings = client_actions.mailings_losing(clients=clients)
        context["mailings"] = mailings[:MAILINGS_NAMED]
        context["mailing_count"] = mailings.count()
    template = partial_for(request, "core/client/bulk.html", "client-bulk-confirm")
    return TemplateResponse(request, template, context)


# A delete's confirmation names this many of the mailings that lose the clients, then counts.
MAILINGS_NAMED = 10


def _list_query(request: HttpRequest) -> str:
    query = request.POST.get("filter", "")
    return f"?{query}" if query else ""


def _bulk_apply(request, action: str, clients: QuerySet[Client], data: dict) -> str:
    """Do `action` to `clients`; what to tell the user."""
    if action == ClientBulkForm.TAG:
        tags = tags_ensure(owner=request.user, names=data["tag_names"])
        count = client_actions.clients_tag(clients=clients, tags=tags)
        text = ngettext("%(count)d client tagged.", "%(count)d clients tagged.", count)
    elif action == ClientBulkForm.UNTAG:
        count = client_actions.clients_untag(clients=clients, tags=list(data["tags"]))
        text = ngettext("%(count)d client untagged.", "%(count)d clients untagged.", count)
    elif action == ClientBulkForm.ADD_TO_MAILING:
        count = client_actions.clients_add_to_mailing(clients=clients, mailing=data["mailing"])
        text = ngettext(
            "%(count)d client added to the mailing.",
            "%(count)d clients added to the mailing.",
            count,
        )
    else:
        count = client_actions.clients_delete(clients=clients)
        text = ngettext("%(count)d client deleted.", "%(count)d clients deleted.", count)
    return text % {"count": count}


@require_http_methods(["GET", "POST"])
def client_export(request: HttpRequest) -> HttpResponse:
    """The user's clients as a file: those the list's filter lets through (GET, the filter in
    the query string), or those a bulk form selected (POST). `format=xlsx` for Excel's own
    format, else CSV; `delimiter=semicolon` for the `;` Russian Excel expects."""
    clients = _selection(request) if request.method == "POST" else _filtered(request, request.GET)
    if clients is None:
        return HttpResponseBadRequest(_("The filter is not valid."))
    name = f"clients-{timezone.localdate():%Y-%m-%d}"
    if request.GET.get("format") == "xlsx":
        response = FileResponse(
            exports.client_xlsx_file(clients),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            exports.client_csv_lines(clients, delimiter=exports.csv_delimiter(request.GET)),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    # A list of people: no cache keeps a copy.
    response["Cache-Control"] = "no-store"
    return response
