"""The contract of the loopback SMTP servers the sending tests rely on.

Only what our servers promise is pinned here (what they record, which reply each fault gives,
that they stop promptly); how smtplib reacts to those replies is smtplib's business.
"""

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


def wait_until(condition, *, timeout: float = CLIENT_TIMEOUT) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


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


def test_sink_with_delay_accepts_several_messages_at_once():
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

    with SmtpSink(delay=0.25) as sink:
        senders = [threading.Thread(target=send_one, args=(n,)) for n in range(connections)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()

        assert errors == []
        assert len(sink.messages) == connections
        # A delay that blocked the event loop would accept one message at a time.
        assert sink.peak_in_progress > 1


def test_a_held_sink_answers_data_only_once_released():
    release = threading.Event()
    with SmtpSink(hold=release) as sink:
        sending = threading.Thread(target=send, args=(sink,), kwargs={"recipients": ["a@b.test"]})
        sending.start()
        wait_until(lambda: sink.peak_in_progress == 1)
        assert sink.messages == []

        release.set()
        sending.join(timeout=CLIENT_TIMEOUT)

        assert not sending.is_alive()
        assert len(sink.messages) == 1


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

    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out") as disconnected:
        send(faulty_server, recipients=["anna@client.test"], timeout=HANG_TIMEOUT)

    # No reply at all: the client's read timed out.
    assert isinstance(disconnected.value.__context__, TimeoutError)
    assert faulty_server.messages == []


def test_hang_for_a_while_then_answers_normally(faulty_server):
    faulty_server.configure(hang_at=Stage.MAIL, hang_seconds=0.2)

    started = time.monotonic()
    send(faulty_server, recipients=["anna@client.test"])

    assert time.monotonic() - started >= 0.2
    assert len(faulty_server.messages) == 1


@pytest.mark.parametrize(
    "stage", [Stage.CONNECT, Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.MESSAGE]
)
def test_421_answers_the_stage_then_closes_the_connection(faulty_server, stage):
    faulty_server.configure(close_421_at=stage)

    with pytest.raises(smtplib.SMTPException) as refused:
        send(faulty_server, recipients=["anna@client.test"])

    error = refused.value
    codes = (
        [code for code, _ in error.recipients.values()]
        if isinstance(error, smtplib.SMTPRecipientsRefused)
        else [error.smtp_code]
    )
    assert codes == [421]
    assert faulty_server.messages == []
    # Nothing the client sent after the 421 reached the server: it had hung up.
    expected_last = {Stage.CONNECT: None, Stage.MESSAGE: "DATA"}.get(stage, stage.value)
    commands = faulty_server.commands
    assert (commands[-1].split(" ")[0].upper() if commands else None) == expected_last


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


def test_drop_in_the_middle_of_data_disconnects_without_delivering(faulty_server):
    faulty_server.configure(drop_during_data_after=10)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(faulty_server, recipients=["anna@client.test"])

    assert faulty_server.messages == []
    assert faulty_server.commands[-1].upper() == "DATA"


def dialogue(server, commands: list[bytes]) -> list[bytes]:
    """Speak SMTP line by line over a raw socket; return the greeting and each reply's line."""
    with socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT) as sock:
        lines = sock.makefile("rb")

        def reply() -> bytes:
            line = lines.readline()
            while line[3:4] == b"-":  # the continuation lines of a multi-line reply
                line = lines.readline()
            return line

        replies = [reply()]
        for command in commands:
            sock.sendall(command + b"\r\n")
            replies.append(reply())
        return replies


@pytest.mark.parametrize(
    ("stage", "index"), [(Stage.CONNECT, 0), (Stage.EHLO, 1), (Stage.MAIL, 2), (Stage.RCPT, 3)]
)
def test_garbage_replaces_the_reply_of_its_stage_only(faulty_server, stage, index):
    faulty_server.configure(garbage_at=stage, garbage_reply=b"999 ???\r\n")

    replies = dialogue(
        faulty_server, [b"EHLO me", b"MAIL FROM:<a@b.test>", b"RCPT TO:<c@d.test>", b"NOOP"]
    )

    assert replies[index] == b"999 ???\r\n"
    assert all(r[:3] in (b"220", b"250", b"503") for i, r in enumerate(replies) if i != index)
    assert replies[-1].startswith(b"250")  # the session goes on


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
    client = smtplib.SMTP(server.host, server.port, timeout=CLIENT_TIMEOUT)
    client.ehlo()
    waiting_client = None
    if isinstance(server, FaultySmtpServer):
        # A client waiting for the reply to a MAIL the server withholds.
        server.configure(hang_at=Stage.MAIL)
        waiting_client = threading.Thread(target=_mail_ignoring_errors, args=(client,))
        waiting_client.start()
        wait_until(lambda: any(c.upper().startswith("MAIL") for c in server.commands))

    started = time.monotonic()
    server.stop()
    stop_took = time.monotonic() - started
    if waiting_client is not None:
        waiting_client.join(timeout=CLIENT_TIMEOUT)
        assert not waiting_client.is_alive()
    client.close()

    assert stop_took < 1.0
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
