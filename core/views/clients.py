"""Clients: list, detail, and the create/edit/delete forms shown in the modal."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core import selectors
from core.filters import ClientFilter
from core.forms import ClientForm
from core.models import Client
from core.tables import ClientTable
from core.views.details import detail_response
from core.views.lists import list_response
from core.views.modal import modal_deleted, modal_form, modal_saved, partial_for


@require_GET
def client_list(request: HttpRequest) -> HttpResponse:
    """The user's clients, filtered, sorted and paged; htmx gets only the table section."""
    filterset = ClientFilter(request.GET, queryset=selectors.client_list(user=request.user))
    return list_response(
        request,
        filterset,
        ClientTable,
        noun="client",
        heading=_("Clients"),
        create_label=_("New client"),
        header_actions="core/client/import_actions.html",
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
    """The user's clients whose email or name contains `q`, for the mailing form's picker."""
    query = request.GET.get("q", "").strip()
    clients = selectors.client_list(user=request.user)
    if query:
        clients = clients.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    found = clients.order_by("email")[:SEARCH_RESULTS]
    return JsonResponse({"results": [{"value": c.pk, "text": str(c)} for c in found]})
