"""A message as one recipient would receive it: the preview, and the test send to its author.

Both build the letter with the engine's own code (`letters.Letter`), so what the user sees and
what a client gets cannot drift apart. A test send goes through the engine's SMTP session to
the user's own address only and writes nothing to the ledger: it is not a run and does not
count in the statistics.
"""

import smtplib
from dataclasses import dataclass

from django.conf import settings

from core.models import Client, Message, User
from core.services.sending.dkim import DkimKeyError, dkim_signer
from core.services.sending.headers import LetterError
from core.services.sending.identity import sender_identity
from core.services.sending.letters import Letter, PersonalisedLetter
from core.services.sending.personalisation import PlaceholderError, recipient_values
from core.services.sending.smtp import Session, SessionError, reply_of
from core.services.suppression import unsubscribe_url

# A token that names no client: the sample link of previews and test sends leads to the
# "unknown link" page instead of unsubscribing anyone.
_SAMPLE_CLIENT_ID = 0


# What the recipient reads: subject, text part, and the HTML part of a Markdown letter.
LetterPreview = PersonalisedLetter


@dataclass(frozen=True)
class TestSendResult:
    """Whether the mail server accepted the test letter, and its reply (or why it did not go)."""

    accepted: bool
    reply: str


def letter_preview(*, message: Message, user: User, client: Client | None = None) -> LetterPreview:
    """`message` of `user` rendered as `client` would receive it; without a client, with the
    user's own name and email. Raises PlaceholderError if the message's text cannot be used."""
    letter = Letter.of_message(message=message, identity=sender_identity(user=user))
    values = _values(user=user, client=client, sample_link=client is None)
    return letter.personalise(values)


def message_send_test(
    *, message: Message, user: User, client: Client | None = None
) -> TestSendResult:
    """Send `message` of `user`, personalised for `client` (or the user), to `user.email` only.

    The letter is the one a run would send, signed too, except that its unsubscribe link names
    no client: a click on it in a test letter must not unsubscribe a real client.
    """
    identity = sender_identity(user=user)
    try:
        letter = Letter.of_message(message=message, identity=identity, signer=dkim_signer())
    except (PlaceholderError, DkimKeyError) as error:
        return TestSendResult(accepted=False, reply=str(error))
    values = _values(user=user, client=client, sample_link=True)
    options = settings.MAILERS["default"].get("OPTIONS", {})
    session = Session(
        options=options,
        timeout=float(options.get("timeout") or 10.0),
        local_hostname=identity.ehlo_name,
    )
    try:
        session.open()
        rendered = letter.render(
            email=user.email,
            name=user.full_name,
            values=values,
            delivery_id="test",
            eight_bit=session.eight_bit,
            smtputf8=session.smtputf8,
        )
        steps = (
            ("mail", session.mail_from(identity.envelope_sender, smtputf8=rendered.smtputf8)),
            ("rcpt", f"TO:<{rendered.recipient}>"),
        )
        for verb, argument in steps:
            code, reply = session.command(session.send_command, verb, argument)
            if code not in (250, 251):
                return TestSendResult(accepted=False, reply=f"{code} {reply}")
        try:
            code, reply = session.command(session.smtp.data, rendered.content)
        except smtplib.SMTPDataError as error:
            return TestSendResult(accepted=False, reply=reply_of(error))
        return TestSendResult(accepted=code == 250, reply=f"{code} {reply}")
    except LetterError as error:
        return TestSendResult(accepted=False, reply=str(error))
    except SessionError as error:
        return TestSendResult(accepted=False, reply=error.reply)
    finally:
        session.close()


def _values(*, user: User, client: Client | None, sample_link: bool) -> dict[str, str]:
    link = unsubscribe_url(client_id=_SAMPLE_CLIENT_ID if sample_link else client.pk)
    if client is None:
        return recipient_values(full_name=user.full_name, email=user.email, unsubscribe_url=link)
    return recipient_values(full_name=client.full_name, email=client.email, unsubscribe_url=link)
