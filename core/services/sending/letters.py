"""The letter of a run: built once from the message and the sender's identity, then
personalised for each recipient.

What every recipient shares (From, Reply-To, List-Id, the MIME structure, the parsed subject
and body, Markdown already turned into sanitised HTML) is built when the run starts; each
recipient adds To, Subject, Date, Message-ID and List-Unsubscribe, and the body rendered with
their values. Building a full MIME message per recipient with the `email` package costs more
than sending it; this costs a small fraction of that.
"""

import itertools
import secrets
import time
from binascii import b2a_qp
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from core.outcomes import said
from core.services.sending.headers import (
    LINE_LIMIT,
    LetterError,
    envelope_address,
    to_header,
    unstructured,
)
from core.services.sending.personalisation import (
    HtmlTemplate,
    Template,
    markdown_template,
    parse,
    recipient_values,
)
from core.services.suppression import unsubscribe_token, unsubscribe_url

if TYPE_CHECKING:
    from core.models import Message
    from core.services.sending.dkim import DkimSigner
    from core.services.sending.identity import SenderIdentity


@dataclass(frozen=True)
class PersonalisedLetter:
    """A letter's subject and parts as one recipient reads them (no MIME, no encoding)."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class RenderedLetter:
    """One recipient's letter, ready for SMTP: envelope recipient and message bytes."""

    recipient: str
    content: bytes
    smtputf8: bool  # the letter needs the server's SMTPUTF8 (a non-ASCII local part)


class Letter:
    """The message of a run for one sender identity, built once, rendered per recipient."""

    def __init__(
        self,
        *,
        subject: str,
        body: str,
        markdown: bool,
        identity: "SenderIdentity",
        signer: "DkimSigner | None" = None,
    ) -> None:
        self.identity = identity
        self.signer = signer
        # One line break at the end, then the footer.
        body = body.replace("\r\n", "\n").replace("\r", "\n").rstrip() + "\n"
        self.subject = parse(subject)
        text = parse(body)
        with translation.override(settings.LANGUAGE_CODE):
            text_footer, html_footer = _footers()
        self.text = text + text_footer
        self.html: HtmlTemplate | None = None
        if markdown:
            self.html = _html_document(markdown_template(text) + html_footer)
        # Message-IDs: a random run prefix, the delivery and a counter (a retry gets a new one).
        self._id_prefix = secrets.token_hex(8)
        self._id_counter = itertools.count()
        self._unsubscribe_url = unsubscribe_links()
        self._boundary = f"=_{secrets.token_hex(16)}"
        self._head = f"From: {identity.from_header}\r\n".encode("ascii")
        if identity.reply_to_header:
            self._head += f"Reply-To: {identity.reply_to_header}\r\n".encode("ascii")
        self._tail = (
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            f"List-Id: {identity.list_id_header}\r\n"
            "MIME-Version: 1.0\r\n"
        ).encode("ascii")
        if self.html is not None:
            content_type = f'multipart/alternative; boundary="{self._boundary}"'
            self._tail += f"Content-Type: {content_type}\r\n".encode("ascii")

    @classmethod
    def of_message(
        cls, *, message: "Message", identity: "SenderIdentity", signer: "DkimSigner | None" = None
    ) -> "Letter":
        """The letter of `message`; raises PlaceholderError if its text cannot be used."""
        return cls(
            subject=message.subject,
            body=message.body,
            markdown=message.format == message.Format.MARKDOWN,
            identity=identity,
            signer=signer,
        )

    def recipient_values(self, *, client_id: int | None, email: str, name: str) -> dict[str, str]:
        """The placeholder values of a client's letter; LetterError for a deleted client (a
        letter must not go out without a working unsubscribe link)."""
        if client_id is None:
            raise LetterError(said("letter.client_deleted"))
        return recipient_values(
            full_name=name, email=email, unsubscribe_url=self._unsubscribe_url(client_id)
        )

    def personalise(self, values: dict[str, str]) -> PersonalisedLetter:
        """Subject, text and HTML (None for a plain-text message) rendered with `values`."""
        return PersonalisedLetter(
            subject=" ".join(self.subject.render(values).split()),
            text=self.text.render(values),
            html=None if self.html is None else self.html.render(values),
        )

    def render(
        self,
        *,
        email: str,
        name: str,
        values: dict[str, str],
        delivery_id: int | str,
        eight_bit: bool,
        smtputf8: bool,
    ) -> RenderedLetter:
        """The letter to `name <email>` personalised with `values`; LetterError if it cannot
        be built for that address. `eight_bit` and `smtputf8` say what the server offers."""
        recipient = envelope_address(email, smtputf8=smtputf8)
        url = values["unsubscribe_url"]
        letter = self.personalise(values)
        head = (
            f"To: {to_header(name, recipient)}\r\n"
            f"Subject: {unstructured(letter.subject, used=len('Subject: '))}\r\n"
            f"Date: {_now()}\r\n"
            f"Message-ID: <{self._id_prefix}.{delivery_id}.{next(self._id_counter)}"
            f"@{self.identity.message_id_domain}>\r\n"
            f"List-Unsubscribe: <{url}>\r\n"
        )
        utf8 = not recipient.isascii()
        if self.html is None:
            body = _part(letter.text, "plain", eight_bit)
        else:
            boundary = self._boundary.encode("ascii")
            body = (
                b"\r\n--"
                + boundary
                + b"\r\n"
                + _part(letter.text, "plain", eight_bit)
                + b"\r\n--"
                + boundary
                + b"\r\n"
                + _part(letter.html, "html", eight_bit)
                + b"\r\n--"
                + boundary
                + b"--\r\n"
            )
        content = self._head + head.encode("utf-8" if utf8 else "ascii") + self._tail + body
        if self.signer is not None:
            content = self.signer.sign(content)
        return RenderedLetter(recipient=recipient, content=content, smtputf8=utf8)


def unsubscribe_links() -> Callable[[int], str]:
    """client id -> unsubscribe URL, resolving the URL pattern once rather than per letter."""
    sample_token = unsubscribe_token(client_id=0)
    sample_url = unsubscribe_url(client_id=0)
    if sample_url.count(sample_token) != 1:  # the token was quoted: resolve each URL
        return lambda client_id: unsubscribe_url(client_id=client_id)
    prefix, suffix = sample_url.split(sample_token)
    return lambda client_id: prefix + unsubscribe_token(client_id=client_id) + suffix


def _footers() -> tuple[Template, HtmlTemplate]:
    """The unsubscribe footer of the text and of the HTML part, in the active language."""
    marker = "\x00"
    text = _("Do not want these letters any more? Unsubscribe: %(url)s") % {"url": marker}
    before, _marker, after = text.partition(marker)
    text_footer = Template([f"\n-- \n{before}", "unsubscribe_url", f"{after}\n"])
    html = _("Do not want these letters any more? %(link)s") % {"link": marker}
    before, _marker, after = escape(html).partition(marker)
    html_footer = HtmlTemplate(
        [
            f'<hr>\n<p style="font-size:small;color:#666">{before}<a href="',
            "url_unsubscribe_url",
            f'">{escape(_("Unsubscribe"))}</a>{after}</p>\n',
        ]
    )
    return text_footer, html_footer


def _html_document(content: HtmlTemplate) -> HtmlTemplate:
    language = escape(settings.LANGUAGE_CODE)
    head = HtmlTemplate(
        [
            f'<!DOCTYPE html>\n<html lang="{language}">\n'
            '<head><meta charset="utf-8"></head>\n<body>\n'
        ]
    )
    return head + content + HtmlTemplate(["</body>\n</html>\n"])


def _part(text: str, subtype: str, eight_bit: bool) -> bytes:
    """A text part with its headers: 7bit or 8bit when its lines allow, else quoted-printable."""
    data = text.replace("\n", "\r\n").encode()
    long_lines = len(data) > LINE_LIMIT and max(map(len, data.split(b"\r\n"))) > LINE_LIMIT
    if not long_lines and data.isascii():
        encoding = "7bit"
    elif not long_lines and eight_bit:
        encoding = "8bit"
    else:
        encoding = "quoted-printable"
        data = b2a_qp(data, istext=True)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii") + data


_date_cache: tuple[int, str] = (0, "")


def _now() -> str:
    """The Date header's value with a numeric zone (RFC 5322), computed once a second."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(second, localtime=True))
    return _date_cache[1]
