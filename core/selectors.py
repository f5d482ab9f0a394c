"""Reading the domain: every view reaches a user's data through these, and only these."""

from django.db.models import QuerySet

from core.models import Attempt, Client, Delivery, Mailing, Message, User


def client_list(*, user: User) -> QuerySet[Client]:
    """The user's clients."""
    return Client.objects.filter(owner=user)


def message_list(*, user: User) -> QuerySet[Message]:
    """The user's messages."""
    return Message.objects.filter(owner=user)


def mailing_list(*, user: User) -> QuerySet[Mailing]:
    """The user's mailings, with their message fetched in the same query."""
    return Mailing.objects.filter(owner=user).select_related("message")


def attempt_list(*, user: User) -> QuerySet[Attempt]:
    """Attempts of the user's mailings, with the mailing and its message in the same query."""
    return Attempt.objects.filter(mailing__owner=user).select_related("mailing__message")


def delivery_list(*, user: User) -> QuerySet[Delivery]:
    """Per-recipient ledger lines of the user's mailings."""
    return Delivery.objects.filter(owner=user)
