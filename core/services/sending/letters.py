"""The letter of a run: rendered once, with only To, Date and Message-ID added per recipient."""

from base64 import b64encode
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME


class Letter:
    """The message of a run, built once: each recipient only adds To, Date and Message-ID.

    Building a full MIME message per recipient costs more than sending it; the body and
    the common headers do not change between recipients, so they are rendered once.
    """

    def __init__(self, *, subject: str, body: str) -> None:
        message = EmailMessage(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=["x@invalid"]
        )
        mime = message.message(policy=SMTP_POLICY)
        for name in ("To", "Date", "Message-ID"):
            del mime[name]
        self.common = mime.as_bytes()
        self.eight_bit = not body.isascii()
        self.common_7bit: bytes | None = None
        if self.eight_bit:
            # For a server without 8BITMIME; set_content keeps Subject, From and MIME-Version.
            mime.set_content(body, charset="utf-8", cte="quoted-printable")
            self.common_7bit = mime.as_bytes()
        self.sender = envelope_address(parseaddr(settings.DEFAULT_FROM_EMAIL)[1]) or ""
        self.domain = DNS_NAME.get_fqdn()

    def render(self, *, delivery_id: int, email: str, name: str, eight_bit: bool) -> bytes:
        headers = (
            f"To: {to_header(name, email)}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Message-ID: {make_msgid(idstring=f'd{delivery_id}', domain=self.domain)}\r\n"
        ).encode("ascii")
        common = self.common if eight_bit or not self.eight_bit else self.common_7bit
        return headers + common


def to_header(name: str, email: str) -> str:
    # Splitting on whitespace also drops CR and LF: a name can never inject a header.
    name = " ".join((name or "").split())
    if not name:
        return email
    if name.isascii():
        return formataddr((name, email))
    return f"{encoded_words(name)} <{email}>"


def encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded-words for a display name, folded between words.

    email.header does the same several times slower; this runs once per recipient.
    """
    words, chunk = [], b""
    for character in text:
        encoded = character.encode()
        # 45 bytes make 60 base64 characters: each encoded-word stays under 75.
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{b64encode(word).decode('ascii')}?=" for word in words)


def envelope_address(email: str) -> str | None:
    """The address as the SMTP envelope needs it (IDNA domain); None if it cannot be sent."""
    if any(character in email for character in "\r\n<>") or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    if not local.isascii():
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return f"{local}@{domain}"
