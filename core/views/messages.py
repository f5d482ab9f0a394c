"""Messages: list, detail, and the create/edit/delete forms shown in the modal."""

from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core import selectors
from core.filters import MessageFilter
from core.forms import MessageForm
from core.models import Client, Message
from core.tables import MessageTable
from core.views.details import detail_response
from core.views.lists import list_response
from core.views.modal import modal_deleted, modal_form, modal_saved, partial_for
from core.views.previews import chosen_client, letter_context, preview_client_form


@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    """The user's messages, filtered, sorted and paged; htmx gets only the table section."""
    filterset = MessageFilter(request.GET, queryset=selectors.message_list(user=request.user))
    return list_response(
        request,
        filterset,
        MessageTable,
        noun="message",
        heading=_("Messages"),
        create_label=_("New message"),
        empty_label=_("Write your first message"),
    )


@require_GET
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One message, the letter as a client would receive it (`?preview_client=`, default the
    first), and the mailings that send it."""
    message = get_object_or_404(selectors.message_list(user=request.user), pk=pk)
    client = chosen_client(user=request.user, pk=request.GET.get("preview_client"))
    mailings = message.mailings.select_related("message")
    return detail_response(
        request,
        noun="message",
        obj=message,
        heading=message.subject,
        list_title=_("Messages"),
        actions="core/message/send_test_button.html",
        message=message,
        mailings=mailings,
        **_letter_context(request, message, client),
    )


@require_http_methods(["GET", "POST"])
def message_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new message, or an edit of message `pk`; mailings that use it send the new text from
    their next run."""
    messages = selectors.message_list(user=request.user)
    message = None if pk is None else get_object_or_404(messages, pk=pk)
    form = MessageForm(request.POST or None, instance=message, owner=request.user)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        text = _("Message “%(subject)s” saved.") % {"subject": saved.subject}
        return modal_saved(request, noun="message", pk=saved.pk, text=text)
    # The live preview starts from the saved letter, as the first client would receive it.
    client = chosen_client(user=request.user, pk=None)
    context = _letter_context(request, message, client)
    title = _("Edit message") if message else _("New message")
    return modal_form(request, noun="message", form=form, obj=message, title=title, **context)


def _letter_context(request: HttpRequest, message: Message | None, client: Client | None) -> dict:
    """The letter as `client` would receive it, and the "Preview as" select that picks them."""
    return {
        "preview_form": preview_client_form(user=request.user, client=client),
        **letter_context(message=message, user=request.user, client=client),
    }


@require_http_methods(["GET", "POST"])
def message_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a message; a message that a mailing uses is kept, and the modal says why."""
    message = get_object_or_404(selectors.message_list(user=request.user), pk=pk)
    if request.method == "POST":
        try:
            message.delete()
        except ProtectedError:
            pass  # A mailing started using it since the question was asked: explain below.
        else:
            text = _("Message “%(subject)s” deleted.") % {"subject": message.subject}
            return modal_deleted(request, noun="message", pk=pk, text=text)
    template = partial_for(request, "core/message/confirm_delete.html", "message-confirm-delete")
    context = {"object": message, "mailings": list(message.mailings.all()[:10])}
    context["mailing_count"] = (
        message.mailings.count() if len(context["mailings"]) == 10 else len(context["mailings"])
    )
    return TemplateResponse(request, template, context)
