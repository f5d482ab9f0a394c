"""Who must not be sent to any more: clients who unsubscribed, and addresses that bounced.

The unsubscribe link of every letter carries a signed token naming the client. It needs no
login and never expires, so the link of an old letter still works; it stops working only when
SECRET_KEY changes without the old key in SECRET_KEY_FALLBACKS.
"""

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from core.models import Client

# Separates these signatures from every other use of SECRET_KEY.
_TOKEN_SALT = "core.unsubscribe"


def unsubscribe_token(*, client_id: int) -> str:
    """The signed token of a client's unsubscribe link (URL-safe, about 50 characters)."""
    return signing.Signer(salt=_TOKEN_SALT).sign(str(client_id))


def unsubscribe_url(*, client_id: int) -> str:
    """The absolute unsubscribe URL of a client, for letters: SITE_URL plus the signed path."""
    path = reverse("unsubscribe", kwargs={"token": unsubscribe_token(client_id=client_id)})
    return settings.SITE_URL.rstrip("/") + path


def client_for_token(token: str) -> Client | None:
    """The client a token names; None for a forged, mangled or stale token or a deleted client."""
    try:
        client_id = signing.Signer(salt=_TOKEN_SALT).unsign(token)
    except signing.BadSignature:
        return None
    if not client_id.isdigit():
        return None
    return Client.objects.filter(pk=int(client_id)).first()


def client_unsubscribe(*, client: Client, source: str, now: datetime) -> bool:
    """Mark the client unsubscribed; False when it already was (the first time and way stay)."""
    return bool(
        Client.objects.filter(pk=client.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=now, unsubscribe_source=source, updated_at=now
        )
    )


def client_resubscribe(*, client: Client, now: datetime) -> bool:
    """Undo an unsubscribe, at the recipient's own request (their link); never the owner's."""
    return bool(
        Client.objects.filter(pk=client.pk, unsubscribed_at__isnull=False).update(
            unsubscribed_at=None, unsubscribe_source="", updated_at=now
        )
    )
