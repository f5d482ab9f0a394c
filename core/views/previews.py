"""A letter as one of the user's clients would receive it: on the message page, and live in
the message and mailing forms as the user types.

Every preview goes through the engine's own rendering (`sending.letter_preview`), so what the
user sees is what the client gets. The client of a preview must be the user's own: another
user's client is a 404 like any other object of theirs.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import selectors
from core.forms import MessageForm, PreviewClientForm
from core.models import Client, Message, User, parse_object_id
from core.services import sending
from core.services.sending.personalisation import PlaceholderError

LETTER_PARTIAL = "core/message/detail.html#message-letter"


def chosen_client(*, user: User, pk: str | None) -> Client | None:
    """The user's client numbered `pk`, or else their first client by email (None if they
    have none). Another user's client, or a pk that is no number, is a 404."""
    clients = selectors.client_list(user=user)
    if pk:
        if (client_id := parse_object_id(pk)) is None:
            raise Http404
        return get_object_or_404(clients, pk=client_id)
    return clients.order_by("email").first()


def letter_context(*, message: Message | None, user: User, client: Client | None) -> dict:
    """What the `message-letter` partial shows: the letter, or why it cannot be shown."""
    context = {"preview_client": client, "letter": None, "letter_error": ""}
    if message is None:
        return context
    try:
        context["letter"] = sending.letter_preview(message=message, user=user, client=client)
    except PlaceholderError as error:
        context["letter_error"] = str(error)
    return context


def preview_client_form(*, user: User, client: Client | None) -> PreviewClientForm:
    """The "Preview as" select, showing `client`."""
    return PreviewClientForm(
        initial={"preview_client": client.pk if client else None},
        owner=user,
        search_url=reverse("client-search"),
    )


@require_GET
def message_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The letter of a saved message as the client `?preview_client=` (default: the first)
    would receive it: the message page's preview, which htmx swaps when another is chosen."""
    message = get_object_or_404(selectors.message_list(user=request.user), pk=pk)
    client = chosen_client(user=request.user, pk=request.GET.get("preview_client"))
    context = letter_context(message=message, user=request.user, client=client)
    return TemplateResponse(request, LETTER_PARTIAL, context)


@require_POST
def message_preview(request: HttpRequest) -> HttpResponse:
    """The letter the message form describes, before it is saved: the form's live preview.

    The form's errors on the subject or body (an unknown placeholder...) are shown instead of
    the letter; an untouched form gets a hint.
    """
    client = chosen_client(user=request.user, pk=request.POST.get("preview_client"))
    form = MessageForm(request.POST, owner=request.user)
    message = form.instance if form.is_valid() else None
    context = letter_context(message=message, user=request.user, client=client)
    if message is None and (request.POST.get("subject") or request.POST.get("body")):
        context["letter_error"] = " ".join(
            str(error) for field in ("subject", "body") for error in form.errors.get(field, [])
        )
    return TemplateResponse(request, LETTER_PARTIAL, context)


@require_POST
def mailing_preview(request: HttpRequest) -> HttpResponse:
    """The letter of the message chosen in the mailing form, as its first chosen client would
    receive it: the form's live preview."""
    message = None
    if message_pk := request.POST.get("message"):
        if (message_id := parse_object_id(message_pk)) is None:
            raise Http404
        message = get_object_or_404(selectors.message_list(user=request.user), pk=message_id)
    chosen = [pk for pk in request.POST.getlist("clients") if pk]
    client = chosen_client(user=request.user, pk=chosen[0] if chosen else None)
    context = letter_context(message=message, user=request.user, client=client)
    context["hint"] = "mailing"
    return TemplateResponse(request, LETTER_PARTIAL, context)
