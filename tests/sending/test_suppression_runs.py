"""Who runs leave out: clients who unsubscribed (through the real link) and addresses the
mail server refused for good. Real SMTP servers on loopback; the ledger says why."""

from collections.abc import Iterator
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing
from core.outcomes import outcome_text
from core.services import suppression
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for

# The aiosmtpd controller of tests.smtp_servers, for a server refusing what its sink accepts.
from tests.smtp_servers import LOOPBACK, ReceivedMessage, SmtpSink, _LoopbackController

pytestmark = pytest.mark.django_db

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def send_mailings(*args: str) -> str:
    """`manage.py send_mailings` (cron, or with --mailing ID: send now); what it printed."""
    out = StringIO()
    call_command("send_mailings", *args, stdout=out)
    return out.getvalue()


def send_now(mailing: Mailing) -> str:
    return send_mailings("--mailing", str(mailing.pk))


def latest_ledger(mailing: Mailing) -> dict[str, tuple[str, str]]:
    """email -> (status, reply as the owner reads it) of the mailing's latest run."""
    attempt = Attempt.objects.filter(mailing=mailing).order_by("-pk").first()
    return {
        email: (status, outcome_text(reply))
        for email, status, reply in attempt.deliveries.values_list("email", "status", "reply")
    }


def unsubscribe(client: Client, *, one_click: bool) -> None:
    """What the recipient (or their mailbox provider) does with the link of a letter."""
    path = urlsplit(suppression.unsubscribe_url(client_id=client.pk)).path
    visitor = HttpClient(enforce_csrf_checks=True)
    if one_click:
        response = visitor.post(
            path, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded"
        )
    else:
        response = visitor.post(path)  # the button of the page
    assert response.status_code == 200


def client(email: str) -> Client:
    return Client.objects.get(email=email)


def back_off_passes() -> None:
    Attempt.objects.filter(status="running", resume_at__isnull=False).update(
        resume_at=timezone.now()
    )


class _RefusingHandler:
    def __init__(self, server: "RefusingSmtpServer") -> None:
        self.server = server

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.server.refuse_sender:
            return self.server.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.server.refuse_at_rcpt:
            return self.server.refuse_at_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        for address in envelope.rcpt_tos:
            if address in self.server.refuse_at_data:
                return self.server.refuse_at_data[address]
        self.server.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                recipients=tuple(envelope.rcpt_tos),
                content=envelope.content,
            )
        )
        return "250 2.0.0 Ok: queued"


class RefusingSmtpServer:
    """An aiosmtpd server that refuses the sender, or given recipients at RCPT or at the end of
    their letter's data, with the reply given; it accepts everything else."""

    def __init__(
        self,
        *,
        refuse_sender: str = "",
        refuse_at_rcpt: dict[str, str] | None = None,
        refuse_at_data: dict[str, str] | None = None,
    ) -> None:
        self.refuse_sender = refuse_sender
        self.refuse_at_rcpt = refuse_at_rcpt or {}
        self.refuse_at_data = refuse_at_data or {}
        self.messages: list[ReceivedMessage] = []
        self.host = LOOPBACK
        self._controller = _LoopbackController(
            _RefusingHandler(self), hostname=LOOPBACK, port=0, server_hostname="refusing.test"
        )

    def __enter__(self) -> "RefusingSmtpServer":
        self._controller.start()
        self.port = self._controller.port
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._controller.stop()

    def recipients(self) -> list[str]:
        return sorted(r for message in self.messages for r in message.recipients)


@pytest.fixture
def refusing(settings) -> Iterator:
    """Start a RefusingSmtpServer with the given refusals and point the sender at it."""
    servers = []

    def start(**refusals) -> RefusingSmtpServer:
        server = RefusingSmtpServer(**refusals).__enter__()
        servers.append(server)
        settings.MAILERS = mailers_for(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


# --- Unsubscribed clients ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one_click", "reason"),
    [(True, "Unsubscribed (one-click)"), (False, "Unsubscribed (link)")],
)
def test_a_client_who_unsubscribed_is_skipped_by_the_next_run_and_the_others_go(
    sink, user, one_click, reason
):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))
    unsubscribe(client("client1@example.com"), one_click=one_click)

    out = send_mailings()

    assert sorted(m.recipients for m in sink.messages) == [
        ("client0@example.com",),
        ("client2@example.com",),
    ]
    assert latest_ledger(mailing)["client1@example.com"] == ("skipped", reason)
    skipped = Delivery.objects.get(email="client1@example.com")
    assert (skipped.sent_at, skipped.tries) == (None, 0)
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "success"
    assert (attempt.accepted_count, attempt.failed_count, attempt.pending_count) == (2, 0, 0)
    assert attempt.skipped_count == 1
    assert "1 recipient skipped (unsubscribed or bounced)" in attempt.response_text
    assert "success, sent 2, failed 0, pending 0, skipped 1" in out


def test_a_run_whose_every_recipient_is_skipped_sends_nothing_and_succeeds(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    for recipient in Client.objects.filter(owner=user):
        unsubscribe(recipient, one_click=True)

    out = send_mailings()

    assert sink.messages == []
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "success"
    assert attempt.response_text == "2 recipients skipped (unsubscribed or bounced)"
    assert (attempt.accepted_count, attempt.pending_count, attempt.skipped_count) == (0, 0, 2)
    assert "success, sent 0, failed 0, pending 0, skipped 2" in out


def test_a_resumed_run_skips_a_client_who_unsubscribed_meanwhile(faulty, user):
    faulty.configure(defer_recipients={"client0@example.com": 10, "client1@example.com": 10})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))
    send_mailings()
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.is_waiting_to_resume and attempt.pending_count == 2

    unsubscribe(client("client0@example.com"), one_click=True)
    faulty.configure()  # the server recovered
    back_off_passes()
    out = send_mailings()

    assert faulty.messages_for("client0@example.com") == []
    assert len(faulty.messages_for("client1@example.com")) == 1
    assert latest_ledger(mailing)["client0@example.com"] == ("skipped", "Unsubscribed (one-click)")
    attempt.refresh_from_db()
    assert attempt.status == "success"
    assert (attempt.accepted_count, attempt.pending_count, attempt.skipped_count) == (2, 0, 1)
    assert "sent 2, failed 0, pending 0, skipped 1" in out


# --- Bounces ------------------------------------------------------------------------------------


def test_550_for_one_recipient_marks_it_bounced_and_the_next_run_skips_it(faulty, user):
    faulty.configure(reject_recipients={"client1@example.com"})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    send_mailings()

    bounced = client("client1@example.com")
    assert bounced.bounced_at is not None
    assert bounced.bounce_reply.startswith("550 5.1.1 <client1@example.com>")
    assert latest_ledger(mailing)["client1@example.com"][0] == "failed"
    assert not Client.objects.exclude(pk=bounced.pk).filter(bounced_at__isnull=False).exists()

    faulty.configure()  # even a server that would accept it now: the address stays suppressed
    out = send_now(mailing)

    assert len(faulty.messages_for("client1@example.com")) == 0
    assert len(faulty.messages_for("client0@example.com")) == 2
    assert len(faulty.messages_for("client2@example.com")) == 2
    status, reply = latest_ledger(mailing)["client1@example.com"]
    assert status == "skipped"
    assert reply == f"Bounced earlier: {bounced.bounce_reply}"
    assert "success, sent 2, failed 0, pending 0, skipped 1" in out


def test_a_bounce_skips_the_client_in_every_mailing_of_its_owner(faulty, user):
    faulty.configure(reject_recipients={"client0@example.com"})
    make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    send_mailings()

    other = make_mailing(owner=user, subject="Another", clients=Client.objects.filter(owner=user))
    send_mailings()

    assert latest_ledger(other)["client0@example.com"][0] == "skipped"


def test_a_4xx_never_marks_the_client_bounced(faulty, user):
    faulty.configure(defer_recipients={"client1@example.com": 10})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    send_mailings()
    send_now(mailing)

    assert client("client1@example.com").bounced_at is None
    assert latest_ledger(mailing)["client1@example.com"][0] == "pending"


def test_a_550_to_the_sender_marks_nobody(refusing, user):
    refusing(refuse_sender="550 5.7.1 Sender address rejected")
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    send_mailings()

    assert not Client.objects.filter(bounced_at__isnull=False).exists()
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.pending_count == 2
    assert "The mail server refused the sender: 550 5.7.1" in attempt.response_text


@pytest.mark.parametrize(
    ("refusal", "reply", "bounces"),
    [
        ("refuse_at_data", "550 5.1.1 Mailbox unavailable", True),
        ("refuse_at_data", "552 5.2.2 Mailbox full", True),
        ("refuse_at_rcpt", "550 No such user here", True),  # no enhanced code: taken at its word
        ("refuse_at_rcpt", "554 5.7.1 Relay access denied", False),  # the server's policy
        ("refuse_at_data", "554 5.6.0 Message content rejected", False),  # the letter
        ("refuse_at_data", "552 5.2.3 Message too big", False),  # the letter
    ],
)
def test_only_a_refusal_about_the_address_marks_it_bounced(refusing, user, refusal, reply, bounces):
    server = refusing(**{refusal: {"client1@example.com": reply}})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    send_mailings()

    assert server.recipients() == ["client0@example.com", "client2@example.com"]
    assert latest_ledger(mailing)["client1@example.com"] == ("failed", reply)
    refused = client("client1@example.com")
    assert (refused.bounced_at is not None) is bounces
    assert refused.bounce_reply == (reply if bounces else "")


def test_an_address_that_cannot_be_sent_is_no_bounce(user, settings):
    make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    Client.objects.filter(email="client0@example.com").update(email="клиент@example.com")

    # A non-ASCII local part needs SMTPUTF8, which this server does not offer.
    with SmtpSink(smtputf8=False) as sink:
        settings.MAILERS = mailers_for(sink)
        send_mailings()

    unusable = client("клиент@example.com")
    assert unusable.deliveries.get().status == "failed"
    assert unusable.bounced_at is None


def test_a_bounce_of_an_old_address_does_not_mark_the_new_one(faulty, user):
    faulty.configure(defer_recipients={"client0@example.com": 10})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))
    send_mailings()  # the run keeps client0@example.com pending, to resume later
    # Meanwhile the owner corrects the address, and the old one turns out not to exist.
    Client.objects.filter(email="client0@example.com").update(email="new@example.com")
    faulty.configure(reject_recipients={"client0@example.com"})
    back_off_passes()

    send_mailings()

    assert latest_ledger(mailing)["client0@example.com"][0] == "failed"
    assert client("new@example.com").bounced_at is None


def test_editing_the_email_clears_the_bounce_and_editing_the_name_does_not(
    user_client, faulty, user
):
    faulty.configure(reject_recipients={"client0@example.com", "client1@example.com"})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    send_mailings()
    renamed, moved = client("client0@example.com"), client("client1@example.com")

    user_client.post(
        reverse("client-update", kwargs={"pk": renamed.pk}),
        {"email": "client0@example.com", "full_name": "Another name"},
    )
    user_client.post(
        reverse("client-update", kwargs={"pk": moved.pk}),
        {"email": "Client1@Example.org", "full_name": moved.full_name},
    )

    renamed.refresh_from_db()
    moved.refresh_from_db()
    assert renamed.bounced_at is not None and renamed.bounce_reply
    assert (moved.email, moved.bounced_at, moved.bounce_reply) == ("client1@example.org", None, "")
    faulty.configure()
    send_now(mailing)
    assert latest_ledger(mailing)["client1@example.org"][0] == "accepted"
    assert latest_ledger(mailing)["client0@example.com"][0] == "skipped"
