"""Who a user's letters say they come from: From, envelope sender, Reply-To, the domain of
their Message-IDs, their List-Id, and the name the sender greets the mail server with.

A user may send from their own address only at a domain the operator allows
(EMAIL_ALLOWED_FROM_DOMAINS), since only those domains' SPF, DKIM and DMARC records cover this
server; otherwise the letter goes from DEFAULT_FROM_EMAIL's address under the user's name, and
replies go to the user. Header values here are ready to write: encoded words for non-ASCII
names, IDNA domains.
"""

from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail.utils import DNS_NAME

from core.models import User
from core.services.sending.headers import encoded_words, idna_address, idna_domain


@dataclass(frozen=True)
class SenderIdentity:
    """What one user's letters carry about their sender; built once per run."""

    display_name: str
    from_address: str  # with an IDNA domain
    from_header: str
    envelope_sender: str
    reply_to_header: str  # empty: no Reply-To
    message_id_domain: str
    list_id_header: str
    ehlo_name: str


def sender_identity(*, user: User) -> SenderIdentity:
    """The sender identity of `user` under the operator's settings (no query)."""
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    default_address = idna_address(default_address) or default_address
    own_address = idna_address(user.from_email) if user.from_email else None
    if own_address and _domain(own_address) in allowed_from_domains():
        from_address, from_default = own_address, False
    else:
        from_address, from_default = default_address, True
    name = " ".join((user.sender_name or user.full_name or default_name).split())
    reply_to = user.reply_to or (user.email if from_default else "")
    reply_to = (idna_address(reply_to) or "") if reply_to else ""
    domain = message_id_domain(from_address)
    return SenderIdentity(
        display_name=name,
        from_address=from_address,
        from_header=address_header(name, from_address),
        envelope_sender=from_address,
        reply_to_header=reply_to,
        message_id_domain=domain,
        list_id_header=f"{phrase(name or domain, quoted=True)} <user-{user.pk}.{domain}>",
        ehlo_name=ehlo_name(),
    )


def sender_identity_of(*, user_id: int) -> SenderIdentity:
    """The sender identity of the user `user_id`, read with one query."""
    user = User.objects.only("email", "full_name", "sender_name", "reply_to", "from_email").get(
        pk=user_id
    )
    return sender_identity(user=user)


def allowed_from_domains() -> set[str]:
    """The domains a user's own From address may be at, lower-case and in IDNA."""
    domains = settings.EMAIL_ALLOWED_FROM_DOMAINS
    return {ascii for domain in domains if (ascii := idna_domain(domain.strip().lower()))}


def message_id_domain(from_address: str) -> str:
    """EMAIL_MESSAGE_ID_DOMAIN, or else the domain of the From address."""
    return idna_domain(settings.EMAIL_MESSAGE_ID_DOMAIN.strip().lower()) or _domain(from_address)


def default_from_domain() -> str:
    return _domain(idna_address(parseaddr(settings.DEFAULT_FROM_EMAIL)[1]) or "")


def ehlo_name() -> str:
    """The name the sender greets the mail server with (EHLO): EMAIL_LOCAL_HOSTNAME or the
    host's fully qualified name."""
    return settings.EMAIL_LOCAL_HOSTNAME or DNS_NAME.get_fqdn()


def address_header(name: str, address: str) -> str:
    """`Name <address>` as a header value: quoted or encoded words, one line per word."""
    name = " ".join((name or "").split())
    if not name:
        return address
    return f"{phrase(name)} <{address}>"


def phrase(text: str, *, quoted: bool = False) -> str:
    """A display name as a header phrase: as it is or quoted if ASCII (always when `quoted`),
    else encoded words."""
    if text.isascii() and "=?" not in text and len(text) < 70:
        if quoted:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return formataddr((text, "x@x"))[: -len(" <x@x>")]
    return encoded_words(text)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()
