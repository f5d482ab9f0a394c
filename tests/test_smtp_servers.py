"""Tests for the loopback SMTP servers, driven by the standard library's smtplib client."""

import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.smtp_servers import (
    Faults,
    FaultySmtpServer,
    ReceivedMessage,
    SmtpSink,
    Stage,
    refused_port,
)

CLIENT_TIMEOUT = 2.0
HANG_TIMEOUT = 0.3
SENDER = "news@shop.test"
MESSAGE = b"Subject: Spring sale\r\n\r\nHello,\r\n.a line starting with a dot\r\n.\r\nBye\r\n"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a server thread running after it ends."""
    threads_before = threading.active_count()
    yield
    # Joined threads are gone at once; the grace period only avoids a flaky report.
    deadline = time.monotonic() + 1.0
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads_before


@pytest.fixture
def faulty_server() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def send(
    server: SmtpSink | FaultySmtpServer,
    *,
    recipients: list[str],
    timeout: float = CLIENT_TIMEOUT,
    credentials: tuple[str, str] | None = None,
) -> dict:
    """Send MESSAGE with smtplib the way the engine will; return sendmail's refusals."""
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as client:
        if credentials is not None:
            client.login(*credentials)
        return client.sendmail(SENDER, recipients, MESSAGE)


# --- SmtpSink ------------------------------------------------------------------------------


def test_sink_records_envelope_and_unstuffed_content(sink):
    refused = send(sink, recipients=["anna@client.test", "boris@client.test"])

    assert refused == {}
    assert sink.messages == [
        ReceivedMessage(
            mail_from=SENDER,
            recipients=("anna@client.test", "boris@client.test"),
            content=MESSAGE,
        )
    ]


def test_sink_listens_on_an_os_assigned_loopback_port():
    with SmtpSink() as first, SmtpSink() as second:
        assert first.host == second.host == "127.0.0.1"
        assert first.port != second.port
        assert 0 not in (first.port, second.port)


def test_sink_with_delay_serves_8_concurrent_connections_in_about_one_delay():
    delay = 0.25
    connections = 8
    start_together = threading.Barrier(connections)
    errors: list[BaseException] = []

    def send_one(number: int) -> None:
        try:
            with smtplib.SMTP(sink.host, sink.port, timeout=CLIENT_TIMEOUT) as client:
                client.ehlo()
                start_together.wait()
                client.sendmail(SENDER, [f"client{number}@client.test"], MESSAGE)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    with SmtpSink(delay=delay) as sink:
        senders = [threading.Thread(target=send_one, args=(n,)) for n in range(connections)]
        started = time.monotonic()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        elapsed = time.monotonic() - started

        assert errors == []
        assert len(sink.messages) == connections
    # Serialised, 8 messages would take 8 delays (2 s).
    assert delay <= elapsed < 2 * delay


def test_sink_requiring_auth_refuses_mail_from_an_anonymous_client():
    with SmtpSink(username="mailer", password="s3cret") as sink:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(sink, recipients=["anna@client.test"])

        assert refused.value.smtp_code == 530
        assert sink.messages == []


def test_sink_requiring_auth_rejects_a_wrong_password_with_535():
    with SmtpSink(username="mailer", password="s3cret") as sink:
        with pytest.raises(smtplib.SMTPAuthenticationError) as rejected:
            send(sink, recipients=["anna@client.test"], credentials=("mailer", "guess"))

        assert rejected.value.smtp_code == 535
        assert sink.messages == []


def test_sink_requiring_auth_accepts_the_right_credentials():
    with SmtpSink(username="mailer", password="s3cret") as sink:
        send(sink, recipients=["anna@client.test"], credentials=("mailer", "s3cret"))

        assert len(sink.messages) == 1


def test_sink_clear_forgets_received_messages(sink):
    send(sink, recipients=["anna@client.test"])

    sink.clear()

    assert sink.messages == []


# --- FaultySmtpServer: well-behaved ----------------------------------------------------------


def test_faulty_server_without_faults_delivers_like_a_real_server(faulty_server):
    refused = send(faulty_server, recipients=["anna@client.test", "boris@client.test"])

    assert refused == {}
    assert faulty_server.messages == [
        ReceivedMessage(
            mail_from=SENDER,
            recipients=("anna@client.test", "boris@client.test"),
            content=MESSAGE,
        )
    ]
    assert faulty_server.connection_count == 1


def test_faulty_server_answers_noop_rset_and_quit(faulty_server):
    client = smtplib.SMTP(faulty_server.host, faulty_server.port, timeout=CLIENT_TIMEOUT)
    client.ehlo()

    assert client.noop()[0] == 250
    assert client.mail(SENDER)[0] == 250
    assert client.rset()[0] == 250
    assert client.rcpt("anna@client.test")[0] == 503  # RSET ended the transaction
    assert client.quit()[0] == 221


def test_faulty_server_accepts_auth_plain_and_login(faulty_server):
    with smtplib.SMTP(faulty_server.host, faulty_server.port, timeout=CLIENT_TIMEOUT) as client:
        client.ehlo()
        client.user, client.password = "plain-user", "pw"
        assert client.auth("PLAIN", client.auth_plain)[0] == 235
    with smtplib.SMTP(faulty_server.host, faulty_server.port, timeout=CLIENT_TIMEOUT) as client:
        client.ehlo()
        client.user, client.password = "login-user", "pw"
        # Without an initial response the server has to prompt for the username too.
        reply = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert reply[0] == 235

    assert faulty_server.logins == ["plain-user", "login-user"]


def test_faulty_server_records_each_connection_and_command(faulty_server):
    send(faulty_server, recipients=["anna@client.test"])
    send(faulty_server, recipients=["boris@client.test"])

    assert faulty_server.connection_count == 2
    verbs = [command.split(" ")[0].upper() for command in faulty_server.commands]
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"] * 2


def test_faulty_server_reset_forgets_records_and_faults(faulty_server):
    faulty_server.configure(reject_recipients={"anna@client.test"})
    send(faulty_server, recipients=["anna@client.test", "boris@client.test"])

    faulty_server.reset()

    assert faulty_server.faults == Faults()
    assert faulty_server.messages == []
    assert faulty_server.commands == []
    assert faulty_server.connection_count == 0


def test_configure_rejects_unknown_faults_and_stages(faulty_server):
    with pytest.raises(TypeError, match="Unknown faults"):
        faulty_server.configure(explode=True)
    with pytest.raises(ValueError):
        faulty_server.configure(hang_at="TELEPORT")


# --- FaultySmtpServer: faults ----------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.CONNECT, Stage.MAIL, Stage.RCPT, Stage.MESSAGE])
def test_hang_outlasts_the_client_timeout(faulty_server, stage):
    faulty_server.configure(hang_at=stage)

    started = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out") as disconnected:
        send(faulty_server, recipients=["anna@client.test"], timeout=HANG_TIMEOUT)

    # smtplib turns the socket timeout into SMTPServerDisconnected; the cause is kept.
    assert isinstance(disconnected.value.__context__, TimeoutError)
    assert HANG_TIMEOUT <= time.monotonic() - started < HANG_TIMEOUT + 0.5
    assert faulty_server.messages == []


def test_hang_for_a_while_then_answers_normally(faulty_server):
    faulty_server.configure(hang_at=Stage.MAIL, hang_seconds=0.2)

    started = time.monotonic()
    send(faulty_server, recipients=["anna@client.test"])

    assert time.monotonic() - started >= 0.2
    assert len(faulty_server.messages) == 1


def test_421_on_connect_is_a_connect_error(faulty_server):
    faulty_server.configure(close_421_at=Stage.CONNECT)

    with pytest.raises(smtplib.SMTPConnectError) as refused:
        send(faulty_server, recipients=["anna@client.test"])

    assert refused.value.smtp_code == 421


@pytest.mark.parametrize(
    ("stage", "error"),
    [
        (Stage.MAIL, smtplib.SMTPSenderRefused),
        (Stage.DATA, smtplib.SMTPDataError),
        (Stage.MESSAGE, smtplib.SMTPDataError),
    ],
)
def test_421_on_a_command_closes_the_session(faulty_server, stage, error):
    faulty_server.configure(close_421_at=stage)

    with pytest.raises(error) as refused:
        send(faulty_server, recipients=["anna@client.test"])

    assert refused.value.smtp_code == 421
    assert faulty_server.messages == []


def test_421_on_rcpt_refuses_the_recipient_with_421(faulty_server):
    faulty_server.configure(close_421_at=Stage.RCPT)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(faulty_server, recipients=["anna@client.test"])

    assert refused.value.recipients["anna@client.test"][0] == 421


def test_421_on_ehlo_ends_in_a_disconnect_because_smtplib_retries_with_helo(faulty_server):
    faulty_server.configure(close_421_at=Stage.EHLO)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(faulty_server, recipients=["anna@client.test"])


def test_451_on_rcpt_for_the_first_tries_then_accepted(faulty_server):
    faulty_server.configure(defer_recipients={"anna@client.test": 2})

    for _ in range(2):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as deferred:
            send(faulty_server, recipients=["anna@client.test"])
        assert deferred.value.recipients["anna@client.test"][0] == 451
    send(faulty_server, recipients=["anna@client.test"])

    assert len(faulty_server.messages_for("anna@client.test")) == 1


def test_451_after_data_for_the_first_try_then_accepted(faulty_server):
    faulty_server.configure(defer_recipients={"anna@client.test": 1}, defer_at=Stage.MESSAGE)

    with pytest.raises(smtplib.SMTPDataError) as deferred:
        send(faulty_server, recipients=["anna@client.test"])
    assert deferred.value.smtp_code == 451
    assert faulty_server.messages == []
    send(faulty_server, recipients=["anna@client.test"])

    assert len(faulty_server.messages_for("anna@client.test")) == 1


def test_configure_restarts_the_451_count(faulty_server):
    faulty_server.configure(defer_recipients={"anna@client.test": 1})
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(faulty_server, recipients=["anna@client.test"])

    faulty_server.configure(defer_recipients={"anna@client.test": 1})

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(faulty_server, recipients=["anna@client.test"])


def test_550_for_a_chosen_recipient_while_the_others_are_accepted(faulty_server):
    faulty_server.configure(reject_recipients={"gone@client.test"})

    # One message per recipient on one connection, as the engine sends them.
    with smtplib.SMTP(faulty_server.host, faulty_server.port, timeout=CLIENT_TIMEOUT) as client:
        client.sendmail(SENDER, ["anna@client.test"], MESSAGE)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as rejected:
            client.sendmail(SENDER, ["gone@client.test"], MESSAGE)
        client.sendmail(SENDER, ["boris@client.test"], MESSAGE)

    assert rejected.value.recipients["gone@client.test"][0] == 550
    assert [message.recipients for message in faulty_server.messages] == [
        ("anna@client.test",),
        ("boris@client.test",),
    ]


def test_550_in_a_multi_recipient_message_is_returned_not_raised_by_smtplib(faulty_server):
    faulty_server.configure(reject_recipients={"gone@client.test"})

    refused = send(faulty_server, recipients=["anna@client.test", "gone@client.test"])

    assert refused["gone@client.test"][0] == 550
    assert faulty_server.messages_for("anna@client.test")[0].recipients == ("anna@client.test",)
    assert faulty_server.messages_for("gone@client.test") == []


def test_drop_in_the_middle_of_data_disconnects_without_delivering(faulty_server):
    faulty_server.configure(drop_during_data_after=10)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(faulty_server, recipients=["anna@client.test"])

    assert faulty_server.messages == []
    assert faulty_server.commands[-1].upper() == "DATA"


def test_garbage_greeting_is_a_connect_error_with_code_minus_1(faulty_server):
    faulty_server.configure(garbage_at=Stage.CONNECT)

    with pytest.raises(smtplib.SMTPConnectError) as error:
        send(faulty_server, recipients=["anna@client.test"])

    # smtplib cannot parse "HEL" as a code and reports -1.
    assert error.value.smtp_code == -1


@pytest.mark.parametrize(
    ("garbage", "code"), [(b"HELLO WORLD\r\n", -1), (b"999 ???\r\n", 999)], ids=["text", "999"]
)
@pytest.mark.parametrize(
    ("stage", "error"),
    [
        (Stage.MAIL, smtplib.SMTPSenderRefused),
        (Stage.DATA, smtplib.SMTPDataError),
        (Stage.MESSAGE, smtplib.SMTPDataError),
    ],
)
def test_garbage_reply_is_a_response_exception(faulty_server, stage, error, garbage, code):
    faulty_server.configure(garbage_at=stage, garbage_reply=garbage)

    with pytest.raises(error) as raised:
        send(faulty_server, recipients=["anna@client.test"])

    assert isinstance(raised.value, smtplib.SMTPResponseException)
    assert raised.value.smtp_code == code
    assert faulty_server.messages == []


def test_garbage_reply_to_rcpt_refuses_the_recipient_with_code_minus_1(faulty_server):
    faulty_server.configure(garbage_at=Stage.RCPT)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(faulty_server, recipients=["anna@client.test"])

    assert refused.value.recipients["anna@client.test"][0] == -1


def test_garbage_reply_to_ehlo_goes_unnoticed_because_smtplib_falls_back_to_helo(
    faulty_server,
):
    faulty_server.configure(garbage_at=Stage.EHLO)

    send(faulty_server, recipients=["anna@client.test"])

    assert [command.split(" ")[0].upper() for command in faulty_server.commands[:2]] == [
        "EHLO",
        "HELO",
    ]
    assert len(faulty_server.messages) == 1


def test_failing_auth_is_an_authentication_error_535(faulty_server):
    faulty_server.configure(fail_auth=True)

    with pytest.raises(smtplib.SMTPAuthenticationError) as rejected:
        send(faulty_server, recipients=["anna@client.test"], credentials=("mailer", "pw"))

    assert rejected.value.smtp_code == 535
    assert faulty_server.logins == []


def test_faults_apply_to_the_next_connection_after_configure(faulty_server):
    send(faulty_server, recipients=["anna@client.test"])
    faulty_server.configure(close_421_at=Stage.CONNECT)
    with pytest.raises(smtplib.SMTPConnectError):
        send(faulty_server, recipients=["anna@client.test"])
    faulty_server.configure()

    send(faulty_server, recipients=["anna@client.test"])

    assert len(faulty_server.messages) == 2


# --- shutdown and refused_port ---------------------------------------------------------------


@pytest.mark.parametrize("make_server", [SmtpSink, FaultySmtpServer])
def test_server_stops_within_a_second_while_a_client_is_still_connected(make_server):
    server = make_server().start()
    if isinstance(server, FaultySmtpServer):
        server.configure(hang_at=Stage.MAIL)
    client = smtplib.SMTP(server.host, server.port, timeout=CLIENT_TIMEOUT)
    client.ehlo()
    waiting_client = threading.Thread(target=_mail_ignoring_errors, args=(client,))
    waiting_client.start()
    time.sleep(0.05)  # let the client sit in the hanging MAIL

    started = time.monotonic()
    server.stop()
    stop_took = time.monotonic() - started
    waiting_client.join(timeout=CLIENT_TIMEOUT)
    client.close()

    assert stop_took < 1.0
    assert not waiting_client.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT)


def _mail_ignoring_errors(client: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.mail(SENDER)


def test_refused_port_refuses_connections():
    port = refused_port()

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=CLIENT_TIMEOUT)


def test_refused_port_is_not_taken_by_servers_started_later():
    port = refused_port()

    with SmtpSink() as sink, FaultySmtpServer() as faulty_server:
        assert port not in (sink.port, faulty_server.port)
