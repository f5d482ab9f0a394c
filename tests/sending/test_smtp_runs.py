"""A run of a mailing against real SMTP servers on loopback: what is sent, what is recorded,
and what happens when the mail server is slow, refuses, drops or talks nonsense."""

import email
import email.policy
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing, Periodicity
from core.services import sending
from core.services.sending import claims
from core.services.suppression import unsubscribe_url
from tests.factories import make_client, make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink, refused_port

pytestmark = pytest.mark.django_db


def run_due() -> str:
    """`manage.py send_mailings` as cron runs it; returns what it printed."""
    from io import StringIO

    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def back_off_passes() -> None:
    """Time moves past the resume back-off of every run left open for pending recipients."""
    Attempt.objects.filter(status="running", resume_at__isnull=False).update(
        resume_at=timezone.now()
    )


def ledger(mailing: Mailing) -> dict[str, tuple[str, str]]:
    """email -> (status, reply) of the mailing's only run."""
    return {
        email: (status, reply)
        for email, status, reply in Delivery.objects.filter(mailing=mailing).values_list(
            "email", "status", "reply"
        )
    }


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.content, policy=email.policy.default)


# --- What goes out ---------------------------------------------------------------------------


def test_each_client_gets_their_own_message_with_date_message_id_and_utf8(sink, user):
    user.sender_name = "Магазин"
    user.save()
    names = ["Анна Петрова", "Boris O'Neil, Jr.", ""]
    clients = [
        make_client(owner=user, email=f"client{n}@example.com", full_name=name)
        for n, name in enumerate(names)
    ]
    mailing = make_mailing(owner=user, clients=clients)

    run_due()

    assert sorted(m.recipients for m in sink.messages) == [
        ("client0@example.com",),
        ("client1@example.com",),
        ("client2@example.com",),
    ]
    letters = {m.recipients[0]: parsed(m) for m in sink.messages}
    assert str(letters["client0@example.com"]["To"]) == "Анна Петрова <client0@example.com>"
    assert letters["client1@example.com"]["To"].addresses[0].display_name == "Boris O'Neil, Jr."
    assert str(letters["client2@example.com"]["To"]) == "client2@example.com"
    for address, letter in letters.items():
        assert letter["Subject"] == "Весенняя распродажа"
        assert str(letter["From"]) == "Магазин <shop@example.com>"
        assert letter["Date"].datetime is not None
        link = unsubscribe_url(client_id=Client.objects.get(email=address).pk)
        assert (
            letter.get_content().replace("\r\n", "\n")
            == "Здравствуйте!\nСкидки до 50%.\n.точка в начале строки\n"  # noqa: RUF001 - Russian text
            f"\n-- \nDo not want these letters any more? Unsubscribe: {link}\n"
        )
    message_ids = {letter["Message-ID"] for letter in letters.values()}
    assert len(message_ids) == 3 and all(mid.startswith("<") for mid in message_ids)
    assert {m.mail_from for m in sink.messages} == {"shop@example.com"}
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.accepted_count, attempt.failed_count) == ("success", 3, 0)
    assert attempt.response_text.startswith("250")


def test_a_long_cyrillic_name_is_folded_into_encoded_words_that_decode_back(sink, user):
    name = "Константин Константинопольский-Переславский Александрович"
    make_mailing(owner=user, clients=[make_client(owner=user, full_name=name)])

    run_due()

    (message,) = sink.messages
    raw_to = email.message_from_bytes(message.content, policy=email.policy.compat32)["To"]
    assert all(len(line) <= 78 for line in raw_to.split("\r\n"))
    # RFC 2047 decoding (email.header): whitespace between encoded-words is not content.
    assert str(make_header(decode_header(raw_to))) == f"{name} <client0@example.com>"


def test_a_name_cannot_inject_headers(sink, user):
    eve = make_client(owner=user, full_name="Eve\r\nBcc: victim@example.com")
    make_mailing(owner=user, clients=[eve])

    run_due()

    (message,) = sink.messages
    assert message.recipients == ("client0@example.com",)
    assert parsed(message)["Bcc"] is None


def test_one_connection_is_reused_for_the_whole_run(faulty, user, settings):
    settings.EMAIL_CONCURRENCY = 1
    make_mailing(owner=user, clients=make_clients(owner=user, count=5))

    run_due()

    assert len(faulty.messages) == 5
    assert faulty.connection_count == 1


def test_a_run_uses_several_connections_each_recipient_exactly_once(faulty, user, settings):
    settings.EMAIL_CONCURRENCY = 4
    make_mailing(owner=user, clients=make_clients(owner=user, count=40))

    run_due()

    recipients = sorted(r for m in faulty.messages for r in m.recipients)
    assert recipients == sorted(f"client{n}@example.com" for n in range(40))
    assert faulty.connection_count == 4


def test_the_sender_reconnects_when_the_server_drops_an_idle_connection(faulty, user, settings):
    # After the 550 the sender resets the transaction; the server answers 421 and hangs up.
    settings.EMAIL_CONCURRENCY = 1
    faulty.configure(reject_recipients={"client0@example.com"}, close_421_at="RSET")
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=4))

    run_due()

    assert sorted(r for m in faulty.messages for r in m.recipients) == [
        "client1@example.com",
        "client2@example.com",
        "client3@example.com",
    ]
    assert faulty.connection_count == 2
    assert ledger(mailing)["client0@example.com"][0] == "failed"


def test_the_ledger_records_when_each_recipient_was_accepted_and_the_reply(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    run_due()

    for delivery in Delivery.objects.filter(mailing=mailing):
        assert delivery.status == "accepted"
        assert delivery.sent_at is not None
        assert delivery.reply_text == "250 2.0.0 Message accepted for delivery"
        assert delivery.tries == 1
        assert delivery.owner == user


# --- Replies about one recipient -------------------------------------------------------------


def test_550_for_one_recipient_is_recorded_and_the_others_still_go_out(faulty, user):
    faulty.configure(reject_recipients={"client1@example.com"})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=5))

    out = run_due()

    assert len(faulty.messages) == 4
    status, reply = ledger(mailing)["client1@example.com"]
    assert status == "failed" and reply.startswith("550 5.1.1")
    refused = Delivery.objects.get(email="client1@example.com")
    assert refused.tries == 1  # never retried
    assert refused.sent_at is not None  # the day it failed counts in the statistics
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "failure"
    assert (attempt.accepted_count, attempt.failed_count, attempt.pending_count) == (4, 1, 0)
    assert "550 5.1.1 <client1@example.com>" in attempt.response_text
    assert f"mailing {mailing.pk} attempt {attempt.pk}: failure, sent 4, failed 1, pending 0" in out


@pytest.mark.parametrize("stage", ["RCPT", "MESSAGE"])
def test_451_is_retried_with_back_off_inside_the_run_until_accepted(faulty, user, stage):
    faulty.configure(defer_recipients={"client2@example.com": 2}, defer_at=stage)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    run_due()

    assert len(faulty.messages_for("client2@example.com")) == 1
    deferred = Delivery.objects.get(email="client2@example.com")
    assert (deferred.status, deferred.tries) == ("accepted", 3)
    assert Attempt.objects.get(mailing=mailing).status == "success"


def test_451_beyond_the_retries_leaves_the_recipient_pending_and_the_run_resumes_for_it(
    faulty, user, settings
):
    faulty.configure(defer_recipients={"client0@example.com": 10})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    run_due()

    pending = Delivery.objects.get(email="client0@example.com")
    assert (pending.status, pending.tries) == ("pending", settings.EMAIL_RETRIES)
    assert pending.sent_at is None
    assert pending.reply_text.startswith("451 4.7.1")
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "running"  # open, with nobody holding it, until the back-off ends
    assert (attempt.accepted_count, attempt.pending_count) == (2, 1)
    assert "451 4.7.1" in attempt.response_text
    assert "tried again at" in attempt.response_text
    back_off = timedelta(seconds=settings.EMAIL_RESUME_AFTER)
    assert attempt.is_waiting_to_resume
    assert attempt.resume_at > timezone.now() + back_off - timedelta(seconds=10)
    assert run_due() == "No mailing is due.\n"  # not before the back-off

    faulty.configure()  # the server recovered
    back_off_passes()
    run_due()

    assert len(faulty.messages_for("client0@example.com")) == 1
    assert len(faulty.messages) == 3  # the resume sent to the pending recipient only
    attempt.refresh_from_db()
    assert attempt.status == "success"
    assert (attempt.accepted_count, attempt.pending_count, attempt.resumes) == (3, 0, 1)
    assert Attempt.objects.filter(mailing=mailing).count() == 1  # still one run


def test_an_address_that_cannot_be_sent_fails_alone(user, settings):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    mailing.clients.filter(email="client0@example.com").update(email="клиент@example.com")

    # A non-ASCII local part needs SMTPUTF8, which this server does not offer.
    with SmtpSink(smtputf8=False) as sink:
        settings.MAILERS = mailers_for(sink)
        run_due()

    assert ledger(mailing)["клиент@example.com"][0] == "failed"
    assert [m.recipients for m in sink.messages] == [("client1@example.com",)]


# --- Replies that stop the run ---------------------------------------------------------------


def assert_run_stopped_cleanly(mailing: Mailing, out: str, *, says: str) -> Attempt:
    attempt = Attempt.objects.get(mailing=mailing)
    # Stopped, saying why; open for a resume of its pending recipients after the back-off.
    assert attempt.status == "running"
    assert attempt.lease_token == ""
    assert attempt.is_waiting_to_resume
    assert attempt.resume_at > timezone.now()
    assert says in attempt.response_text
    assert (
        attempt.pending_count == Delivery.objects.filter(mailing=mailing, status="pending").count()
    )
    assert attempt.accepted_count == 0 and attempt.pending_count == 3
    assert f"attempt {attempt.pk}: running, sent 0, failed 0, pending 3" in out
    return attempt


@pytest.mark.parametrize("stage", ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "MESSAGE"])
def test_a_server_that_hangs_is_given_up_after_the_timeout(faulty, user, stage):
    faulty.configure(hang_at=stage)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()

    # Each of the two connections waited out one timeout; no recipient opened another.
    assert faulty.connection_count == 2
    assert_run_stopped_cleanly(mailing, out, says="No answer from the mail server")


def test_421_on_connect_stops_the_run_with_the_servers_reply(faulty, user):
    faulty.configure(close_421_at="CONNECT")
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()

    assert_run_stopped_cleanly(mailing, out, says="421 4.3.2 Service not available")


def test_a_refused_connection_stops_the_run(user, settings):
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()

    assert_run_stopped_cleanly(mailing, out, says="Cannot connect to the mail server")


def test_failed_authentication_stops_the_run(user, settings):
    with SmtpSink(username="shop", password="right") as server:
        settings.MAILERS = mailers_for(server, username="shop", password="wrong")
        mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

        out = run_due()

    assert_run_stopped_cleanly(mailing, out, says="535")


def test_authentication_with_the_right_password_sends(user, settings):
    with SmtpSink(username="shop", password="right") as server:
        settings.MAILERS = mailers_for(server, username="shop", password="right")
        make_mailing(owner=user, clients=make_clients(owner=user, count=3))

        run_due()

        assert len(server.messages) == 3


def test_a_dropped_connection_during_data_stops_the_run(faulty, user):
    faulty.configure(drop_during_data_after=10)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()

    assert faulty.messages == []
    assert_run_stopped_cleanly(mailing, out, says="closed the connection")


@pytest.mark.parametrize("stage", ["CONNECT", "MAIL", "RCPT", "DATA", "MESSAGE"])
def test_a_garbage_reply_stops_the_run(faulty, user, stage):
    faulty.configure(garbage_at=stage)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()

    assert_run_stopped_cleanly(mailing, out, says="Unintelligible reply")


def test_a_failing_mailing_never_holds_up_the_others(faulty, user):
    # One mailing's letter cannot even be built, another's recipients are all refused.
    broken = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=1),
        subject="Hello {{ client.owner.password }}",
    )
    refused = make_mailing(owner=user, clients=make_clients(owner=user, count=2, first=1))
    fine = make_mailing(owner=user, clients=make_clients(owner=user, count=2, first=3))
    faulty.configure(reject_recipients={"client1@example.com", "client2@example.com"})
    Mailing.objects.update(next_run_at=broken.next_run_at)

    out = run_due()

    assert Attempt.objects.get(mailing=broken).status != "success"
    assert Attempt.objects.get(mailing=refused).status == "failure"
    assert Attempt.objects.get(mailing=fine).status == "success"
    assert sorted(r for m in faulty.messages for r in m.recipients) == [
        "client3@example.com",
        "client4@example.com",
    ]
    assert len(out.strip().splitlines()) == 3


def test_the_command_exits_0_when_a_run_fails_and_says_so(faulty, user):
    faulty.configure(close_421_at="CONNECT")
    make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    out = run_due()  # call_command raises on a non-zero exit

    assert "running, sent 0, failed 0, pending 3" in out
    assert "421" in out


def test_a_sender_that_lost_its_lease_stops_and_leaves_the_run_to_its_new_owner(user, settings):
    settings.EMAIL_CONCURRENCY = 1
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=20))
    attempt = claims.attempt_claim_due(now=timezone.now())
    # Another sender takes the run over, as if this one had stalled past its lease.
    Attempt.objects.filter(pk=attempt.pk).update(lease_token="someone-else")

    with SmtpSink(delay=0.1) as server:
        settings.MAILERS = mailers_for(server)
        sending.attempt_run(attempt=attempt)

        # It notices at its next lease renewal, within half a second, and sends no more.
        assert 1 <= len(server.messages) <= 8
    attempt.refresh_from_db()
    assert (attempt.status, attempt.finished_at) == ("running", None)
    assert Delivery.objects.filter(mailing=mailing, status="accepted").count() == len(
        server.messages
    )


# --- Resuming a run for the recipients it left pending ---------------------------------------


def test_a_run_stopped_by_a_server_that_was_down_resumes_once_it_is_back(user, settings):
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))
    run_due()

    with SmtpSink() as server:
        settings.MAILERS = mailers_for(server)
        back_off_passes()
        out = run_due()

        assert sorted(r for m in server.messages for r in m.recipients) == [
            "client0@example.com",
            "client1@example.com",
            "client2@example.com",
        ]
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "success" and attempt.finished_at is not None
    assert f"attempt {attempt.pk}: success, sent 3, failed 0, pending 0" in out


def test_resumes_are_bounded_then_the_run_fails_with_its_recipients_pending(user, settings):
    settings.EMAIL_RESUMES = 2
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    for _ in range(3):
        run_due()
        back_off_passes()

    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.resumes, attempt.pending_count) == ("failure", 2, 3)
    assert attempt.finished_at is not None
    assert "Cannot connect to the mail server" in attempt.response_text


def test_no_resume_is_set_at_or_after_the_mailings_next_run(user, settings):
    settings.EMAIL_RESUME_AFTER = 2 * 24 * 3600  # past tomorrow's run of a daily mailing
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=3), periodicity=Periodicity.DAILY
    )

    run_due()

    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "failure"  # tomorrow's run sends to everyone anyway
    assert attempt.resumes == 0
