"""How a letter travels: STARTTLS, implicit TLS, a server without 8BITMIME, an IDNA domain."""

import email
import email.policy
import quopri

import pytest
from django.core.management import call_command

from core.models import Attempt, Delivery
from tests.factories import BODY, SUBJECT, make_client, make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink

pytestmark = pytest.mark.django_db


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.content, policy=email.policy.default)


@pytest.mark.parametrize(
    ("server_options", "mailer_options"),
    [({}, {"use_tls": True}), ({"implicit_tls": True}, {"use_ssl": True})],
    ids=["starttls", "implicit-tls"],
)
def test_letters_go_out_encrypted_to_a_server_that_speaks_tls(
    user, settings, server_tls_context, trusted_ca, server_options, mailer_options
):
    # The STARTTLS server refuses MAIL before STARTTLS; the implicit one speaks TLS only.
    with SmtpSink(tls_context=server_tls_context, **server_options) as server:
        settings.MAILERS = mailers_for(server, **mailer_options)
        mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

        call_command("send_mailings")

        received = server.messages
    assert sorted(r for m in received for r in m.recipients) == [
        "client0@example.com",
        "client1@example.com",
    ]
    assert all(message.encrypted for message in received)
    assert parsed(received[0])["Subject"] == SUBJECT
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.accepted_count) == ("success", 2)


def test_a_server_without_8bitmime_gets_a_quoted_printable_7_bit_letter(user, settings):
    with SmtpSink(eight_bit_mime=False) as server:
        settings.MAILERS = mailers_for(server)
        make_mailing(owner=user, clients=[make_client(owner=user, full_name="Анна Петрова")])

        call_command("send_mailings")

        (message,) = server.messages
    # The server refuses 8-bit content and BODY=8BITMIME: it was accepted, so it had neither.
    assert message.content.isascii()
    letter = parsed(message)
    assert letter["Content-Transfer-Encoding"] == "quoted-printable"
    assert letter.get_content_charset() == "utf-8"
    raw_body = message.content.split(b"\r\n\r\n", 1)[1]
    assert quopri.decodestring(raw_body).decode().replace("\r\n", "\n") == BODY
    assert letter["Subject"] == SUBJECT
    assert str(letter["To"]) == "Анна Петрова <client0@example.com>"
    assert Delivery.objects.get().status == "accepted"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "The engine builds the To header from the stored address and encodes it as ASCII: "
        "a Unicode domain raises UnicodeEncodeError in the SMTP worker after MAIL and RCPT, "
        "the run is left with the recipient pending, and every resume fails the same way."
    ),
)
def test_a_client_at_a_unicode_domain_gets_the_letter_with_the_domain_in_idna(user, sink):
    anna = make_client(owner=user, email="anna@müller.de", full_name="Anna Müller")
    mailing = make_mailing(owner=user, clients=[anna])

    call_command("send_mailings")

    (message,) = sink.messages
    assert message.recipients == ("anna@xn--mller-kva.de",)
    (address,) = parsed(message)["To"].addresses
    assert (address.display_name, address.addr_spec) == ("Anna Müller", "anna@xn--mller-kva.de")
    assert Attempt.objects.get(mailing=mailing).status == "success"
