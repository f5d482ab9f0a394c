"""Real SMTP servers on loopback for tests and benchmarks of the sending engine.

* ``SmtpSink``: an aiosmtpd server that accepts and records everything, optionally slowly,
  held until released, behind AUTH, over STARTTLS or implicit TLS, or without 8BITMIME.
* ``FaultySmtpServer``: a small hand-written SMTP server that misbehaves on demand (hangs,
  421, 451, 550, dropped DATA, garbage replies, failing AUTH).
* ``refused_port()``: a loopback port where connections are refused.

Servers run in a background thread on 127.0.0.1 with an OS-assigned port and are context
managers; leaving the ``with`` block stops them and joins their thread within a second.
"""

import asyncio
import atexit
import base64
import binascii
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class ReceivedMessage:
    """One message a server accepted: envelope sender, accepted recipients, raw content, and
    whether it travelled encrypted (STARTTLS or implicit TLS)."""

    mail_from: str
    recipients: tuple[str, ...]
    content: bytes
    encrypted: bool = False
    # The name the client gave in EHLO/HELO (recorded by SmtpSink; not compared).
    helo: str = field(default="", compare=False)
    # When the server accepted it (time.monotonic(); recorded by SmtpSink; not compared).
    received_at: float = field(default=0.0, compare=False)


class _BackgroundServer:
    host: str = LOOPBACK
    port: int

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- SmtpSink ------------------------------------------------------------------------------


class _LoopbackController(Controller):
    """aiosmtpd controller that can listen on port 0.

    aiosmtpd 1.4 probes the server by connecting to the configured port, which fails for
    port 0; learning the real port first avoids racing another process for a "free" port.
    """

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _SinkHandler:
    def __init__(self, *, sink: "SmtpSink") -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self._sink.pipelining:
            # aiosmtpd reads commands one line at a time, so pipelined ones are served in
            # order; it only does not say so.
            responses = [*responses[:-1], "250-PIPELINING", responses[-1]]
        if self._sink.eight_bit_mime:
            return responses
        return [reply for reply in responses if reply[4:].upper() != "8BITMIME"]

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns on every
        # connection when TLS is not required too.
        if self._sink.requires_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if not self._sink.eight_bit_mime and "BODY=8BITMIME" in (o.upper() for o in mail_options):
            return "555 5.5.4 BODY=8BITMIME is not supported here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self._sink.eight_bit_mime and not envelope.original_content.isascii():
            return "554 5.6.1 8-bit content, but 8BITMIME was not offered"
        # asyncio.sleep, not time.sleep: other connections share this event loop.
        with self._sink._in_progress() as number:
            if self._sink.delay:
                await asyncio.sleep(self._sink.delay)
            held = self._sink.hold is not None and number > self._sink.hold_after
            while held and not self._sink.hold.is_set():
                await asyncio.sleep(0.01)
        self._sink._record(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                recipients=tuple(envelope.rcpt_tos),
                content=envelope.content,
                encrypted=server.transport.get_extra_info("ssl_object") is not None,
                helo=session.host_name or "",
                received_at=time.monotonic(),
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class SmtpSink(_BackgroundServer):
    """A well-behaved SMTP server (aiosmtpd) that records every message it receives.

    ``delay`` seconds pass before each message is accepted; with ``hold``, the accept waits
    until that event is set too, except for the first ``hold_after`` messages (so that a test
    can stop a sender mid-run at a known letter, whatever the machine's speed).
    ``tls_context`` (a server context) offers STARTTLS and refuses mail before it, or with
    ``implicit_tls`` encrypts from the first byte. Without ``eight_bit_mime`` the server does
    not offer 8BITMIME and refuses 8-bit content. With ``pipelining`` it offers PIPELINING
    (RFC 2920), as most mail servers do.
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        hold: threading.Event | None = None,
        hold_after: int = 0,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        eight_bit_mime: bool = True,
        smtputf8: bool = True,
        pipelining: bool = True,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("Give both username and password, or neither.")
        if implicit_tls and tls_context is None:
            raise ValueError("Implicit TLS needs a tls_context.")
        self.delay = delay
        self.hold = hold
        self.hold_after = hold_after
        self.eight_bit_mime = eight_bit_mime
        self.pipelining = pipelining
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        # Whether EHLO offers SMTPUTF8 (RFC 6531: addresses with non-ASCII local parts).
        self.smtputf8 = smtputf8
        self._credentials = None if username is None else (username, password)
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._accepting = 0
        self._peak_accepting = 0
        self._data_count = 0
        self._controller: _LoopbackController | None = None

    @property
    def requires_auth(self) -> bool:
        """Return whether MAIL is refused (530) until the client authenticated."""
        return self._credentials is not None

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Return a snapshot of the messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def peak_in_progress(self) -> int:
        """Return the most messages the server was accepting at one moment so far."""
        with self._lock:
            return self._peak_accepting

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._lock:
            self._messages.clear()

    def start(self) -> Self:
        """Start listening; return self with ``host`` and ``port`` set."""
        auth_options: dict[str, Any] = {}
        if self.requires_auth:
            auth_options = {
                # Loopback tests have no TLS; aiosmtpd refuses AUTH in clear text otherwise.
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        tls_options: dict[str, Any] = {}
        if self._implicit_tls:
            tls_options = {"ssl_context": self._tls_context}
        elif self._tls_context is not None:
            tls_options = {"tls_context": self._tls_context, "require_starttls": True}
        self._controller = _LoopbackController(
            _SinkHandler(sink=self),
            hostname=LOOPBACK,
            port=0,
            # A fixed name: aiosmtpd would otherwise call socket.getfqdn(), a DNS lookup.
            server_hostname="sink.test",
            enable_SMTPUTF8=self.smtputf8,
            **auth_options,
            **tls_options,
        )
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        """Stop the server and join its thread."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)

    @contextlib.contextmanager
    def _in_progress(self) -> Iterator[int]:
        """Count a message being accepted; yield its number (from 1) in the sink's life."""
        with self._lock:
            self._accepting += 1
            self._peak_accepting = max(self._peak_accepting, self._accepting)
            self._data_count += 1
            number = self._data_count
        try:
            yield number
        finally:
            with self._lock:
                self._accepting -= 1

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        # handled=False makes aiosmtpd send the 535 itself; its default (True) means "the
        # reply was already sent" and leaves the client waiting forever.
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self._credentials, handled=False, auth_data=auth_data)


# --- FaultySmtpServer ------------------------------------------------------------------------


class Stage(StrEnum):
    """A point in an SMTP session where the faulty server replies (and can misbehave)."""

    CONNECT = "CONNECT"  # the 220 greeting
    EHLO = "EHLO"
    HELO = "HELO"
    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"  # the 354 go-ahead for the DATA command
    MESSAGE = "MESSAGE"  # the reply after the message's final "."
    RSET = "RSET"
    NOOP = "NOOP"
    QUIT = "QUIT"


def _stages(value: str | Collection[str]) -> frozenset[Stage]:
    # A bare string is one stage, not a collection of letters.
    names = [value] if isinstance(value, str) else list(value)
    return frozenset(Stage(name.upper()) for name in names)


def _addresses(value: str | Collection[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


@dataclass(frozen=True)
class Faults:
    """How the faulty server misbehaves; the defaults describe a well-behaved server.

    Stages are ``Stage`` members or their names ("RCPT"); one name or a collection.
    Stage-wide faults apply in field order (hang, then 421, then garbage), and a command
    answered with 421 or garbage has no effect on the session.
    """

    # Stages whose reply is withheld for ``hang_seconds`` (None: until the server stops),
    # e.g. to outlast a client timeout; after a finite hang the normal reply follows.
    hang_at: str | Collection[str] = frozenset()
    hang_seconds: float | None = None
    # Stages answered with "421 service closing", after which the server disconnects; only
    # the first ``close_421_times`` such commands (None: every one).
    close_421_at: str | Collection[str] = frozenset()
    close_421_times: int | None = None
    # Stages answered with ``garbage_reply`` instead of an SMTP reply.
    garbage_at: str | Collection[str] = frozenset()
    garbage_reply: bytes = b"HELLO WORLD\r\n"
    # Recipients refused with 550 at RCPT; others are accepted.
    reject_recipients: Collection[str] = frozenset()
    # Recipient -> how many tries get 451 before it is accepted. A try is one RCPT for the
    # address (``defer_at`` RCPT) or one message including it (``defer_at`` MESSAGE).
    defer_recipients: Mapping[str, int] = field(default_factory=dict)
    defer_at: str = Stage.RCPT
    # Drop the connection, without replying, once this many bytes of message content
    # arrived (or at the final "." if the message is shorter).
    drop_during_data_after: int | None = None
    # Answer every AUTH attempt with 535.
    fail_auth: bool = False
    # Offer PIPELINING (RFC 2920) in EHLO; commands are served one line at a time either way.
    pipelining: bool = False

    def __post_init__(self) -> None:
        for name in ("hang_at", "close_421_at", "garbage_at"):
            object.__setattr__(self, name, _stages(getattr(self, name)))
        object.__setattr__(self, "reject_recipients", _addresses(self.reject_recipients))
        object.__setattr__(self, "defer_recipients", MappingProxyType(dict(self.defer_recipients)))
        object.__setattr__(self, "defer_at", Stage(self.defer_at))
        if self.defer_at not in (Stage.RCPT, Stage.MESSAGE):
            raise ValueError("defer_at must be RCPT or MESSAGE.")


FAULT_NAMES = frozenset(f.name for f in fields(Faults))


class _Session:
    def __init__(self) -> None:
        self.greeted = False
        self.mail_from: str | None = None
        self.recipients: list[str] = []

    def reset_transaction(self) -> None:
        self.mail_from = None
        self.recipients = []


class _Closed(Exception):
    """The session is over: the client left, or the server ends it (QUIT, 421, drop)."""

    def __init__(self, *, abruptly: bool = False) -> None:
        super().__init__()
        # Abrupt: reset the connection without flushing, like a crashed server.
        self.abruptly = abruptly


_EHLO_REPLY = "250-faulty.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN"
_MAX_LINE_BYTES = 1 << 20


class FaultySmtpServer(_BackgroundServer):
    """A hand-written SMTP server that injects the faults described by ``Faults``."""

    def __init__(self, *, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._messages: list[ReceivedMessage] = []
        self._commands: list[str] = []
        self._logins: list[str] = []
        self._connection_count = 0
        self._deferrals_left: dict[str, int] = {}
        self._set_faults(faults or Faults())
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # Configuration and records, safe to use from the test's thread.

    @property
    def faults(self) -> Faults:
        """Return the faults in force."""
        return self._faults

    def configure(self, **faults: Any) -> Faults:
        """Replace all faults (unnamed ones go back to well-behaved) and restart 451 counts."""
        unknown = set(faults) - FAULT_NAMES
        if unknown:
            raise TypeError(f"Unknown faults {sorted(unknown)}; known: {sorted(FAULT_NAMES)}.")
        new_faults = Faults(**faults)
        self._set_faults(new_faults)
        return new_faults

    def reset(self) -> None:
        """Behave well again and forget messages, commands, logins and connections."""
        with self._lock:
            self._messages.clear()
            self._commands.clear()
            self._logins.clear()
            self._connection_count = 0
        self._set_faults(Faults())

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Return the accepted messages, each with the recipients it was accepted for."""
        with self._lock:
            return list(self._messages)

    def messages_for(self, recipient: str) -> list[ReceivedMessage]:
        """Return the accepted messages that were delivered to ``recipient``."""
        return [message for message in self.messages if recipient in message.recipients]

    @property
    def commands(self) -> list[str]:
        """Return the command lines received so far (message content excluded)."""
        with self._lock:
            return list(self._commands)

    @property
    def logins(self) -> list[str]:
        """Return the usernames that authenticated successfully."""
        with self._lock:
            return list(self._logins)

    @property
    def connection_count(self) -> int:
        """Return how many connections were accepted since start or the last reset."""
        with self._lock:
            return self._connection_count

    # Lifecycle.

    def start(self) -> Self:
        """Start listening; return self with ``host`` and ``port`` set."""
        if self._thread is not None:
            raise RuntimeError("Server already running.")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="FaultySmtpServer", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=5) or self._startup_error is not None:
            self.stop()
            raise RuntimeError("Faulty SMTP server did not start.") from self._startup_error
        return self

    def stop(self) -> None:
        """Drop every connection, stop listening and join the thread (within a second)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop_requested is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended by itself
                self._loop.call_soon_threadsafe(self._stop_requested.set)
        thread.join(timeout=STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise RuntimeError("Faulty SMTP server did not stop within a second.")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to start()
            self._startup_error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        connections: set[asyncio.Task] = set()

        async def serve_tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            task = asyncio.current_task()
            connections.add(task)
            try:
                await self._serve_connection(reader, writer)
            except asyncio.CancelledError:
                # Cancelled by stop(). Ending normally, because asyncio 3.12.1 logs a
                # traceback for every cancelled client_connected_cb task.
                pass
            finally:
                connections.discard(task)

        server = await asyncio.start_server(
            serve_tracked, host=LOOPBACK, port=0, limit=_MAX_LINE_BYTES
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop_requested.wait()
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    # The SMTP session.

    def _set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._deferrals_left = dict(faults.defer_recipients)
            self._421s_given = 0

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with self._lock:
            self._connection_count += 1
        session = _Session()
        abruptly = True  # also when stop() cancels this task mid-session
        try:
            if await self._inject_fault(writer, Stage.CONNECT):
                await self._reply(writer, "220 faulty.test ESMTP ready")
            while True:
                line = await _read_line(reader)
                await self._handle_command(line, session, reader, writer)
        except _Closed as closed:
            abruptly = closed.abruptly
        except ConnectionError:
            pass
        finally:
            if abruptly:
                writer.transport.abort()
            else:
                # close() flushes what is buffered (a 421 or 221) before closing.
                writer.close()

    async def _handle_command(
        self,
        line: bytes,
        session: _Session,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        verb, _, argument = text.partition(" ")
        verb = verb.upper()
        with self._lock:
            self._commands.append(text)
        try:
            stage = Stage(verb)
        except ValueError:
            await self._reply(writer, "500 5.5.2 Error: command not recognized")
            return
        if stage in (Stage.CONNECT, Stage.MESSAGE):
            await self._reply(writer, "500 5.5.2 Error: command not recognized")
            return
        if not await self._inject_fault(writer, stage):
            return

        match stage:
            case Stage.EHLO:
                session.greeted = True
                session.reset_transaction()
                greeting, _, extensions = _EHLO_REPLY.partition("\r\n")
                if self._faults.pipelining:
                    extensions = "250-PIPELINING\r\n" + extensions
                await self._reply(writer, f"{greeting}\r\n{extensions}")
            case Stage.HELO:
                session.greeted = True
                session.reset_transaction()
                await self._reply(writer, "250 faulty.test")
            case Stage.AUTH:
                await self._authenticate(argument, reader, writer)
            case Stage.MAIL:
                await self._mail(argument, session, writer)
            case Stage.RCPT:
                await self._rcpt(argument, session, writer)
            case Stage.DATA:
                await self._data(session, reader, writer)
            case Stage.RSET:
                session.reset_transaction()
                await self._reply(writer, "250 2.0.0 Ok")
            case Stage.NOOP:
                await self._reply(writer, "250 2.0.0 Ok")
            case Stage.QUIT:
                await self._reply(writer, "221 2.0.0 Bye")
                raise _Closed

    async def _inject_fault(self, writer: asyncio.StreamWriter, stage: Stage) -> bool:
        """Apply the stage-wide faults; return whether the normal reply should follow."""
        faults = self._faults
        if stage in faults.hang_at:
            if faults.hang_seconds is None:
                await asyncio.Event().wait()  # never set: only stop() cancels this wait
            else:
                await asyncio.sleep(faults.hang_seconds)
        if stage in faults.close_421_at and self._take_421():
            await self._reply(writer, "421 4.3.2 Service not available, closing channel")
            raise _Closed
        if stage in faults.garbage_at:
            writer.write(faults.garbage_reply)
            await writer.drain()
            return False
        return True

    async def _mail(self, argument: str, session: _Session, writer: asyncio.StreamWriter) -> None:
        address = _path_argument(argument, keyword="FROM:")
        if not session.greeted:
            await self._reply(writer, "503 5.5.1 Error: send HELO first")
        elif session.mail_from is not None:
            await self._reply(writer, "503 5.5.1 Error: nested MAIL command")
        elif address is None:
            await self._reply(writer, "501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            session.mail_from = address
            await self._reply(writer, "250 2.1.0 Ok")

    async def _rcpt(self, argument: str, session: _Session, writer: asyncio.StreamWriter) -> None:
        address = _path_argument(argument, keyword="TO:")
        faults = self._faults
        if session.mail_from is None:
            await self._reply(writer, "503 5.5.1 Error: need MAIL command")
        elif address is None:
            await self._reply(writer, "501 5.5.4 Syntax: RCPT TO:<address>")
        elif address in faults.reject_recipients:
            await self._reply(writer, f"550 5.1.1 <{address}>: Recipient address rejected")
        elif faults.defer_at == Stage.RCPT and self._take_deferral([address]):
            await self._reply(writer, f"451 4.7.1 <{address}>: Try again later")
        else:
            session.recipients.append(address)
            await self._reply(writer, "250 2.1.5 Ok")

    async def _data(
        self, session: _Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not session.recipients:
            await self._reply(writer, "503 5.5.1 Error: need RCPT command")
            return
        await self._reply(writer, "354 End data with <CR><LF>.<CR><LF>")
        faults = self._faults
        lines: list[bytes] = []
        received = 0
        while True:
            line = await _read_line(reader)
            at_end = line == b".\r\n"
            received += 0 if at_end else len(line)
            drop_after = faults.drop_during_data_after
            if drop_after is not None and (received >= drop_after or at_end):
                raise _Closed(abruptly=True)
            if at_end:
                break
            # Undo the client's dot-stuffing (RFC 5321 section 4.5.2).
            lines.append(line[1:] if line.startswith(b".") else line)

        mail_from, recipients = session.mail_from, tuple(session.recipients)
        session.reset_transaction()
        if not await self._inject_fault(writer, Stage.MESSAGE):
            return
        if faults.defer_at == Stage.MESSAGE and self._take_deferral(recipients):
            await self._reply(writer, "451 4.3.0 Try again later")
            return
        with self._lock:
            self._messages.append(
                ReceivedMessage(mail_from=mail_from, recipients=recipients, content=b"".join(lines))
            )
        await self._reply(writer, "250 2.0.0 Ok: queued")

    async def _authenticate(
        self, argument: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        mechanism, _, initial_response = argument.partition(" ")
        mechanism = mechanism.upper()
        try:
            if mechanism == "PLAIN":
                response = initial_response or await self._challenge(reader, writer, "")
                _, username, _ = _b64decode(response).split("\0")
            elif mechanism == "LOGIN":
                username = _b64decode(
                    initial_response or await self._challenge(reader, writer, "Username:")
                )
                _b64decode(await self._challenge(reader, writer, "Password:"))
            else:
                await self._reply(writer, "504 5.5.4 Unrecognized authentication type")
                return
        except _AuthCancelled:
            await self._reply(writer, "501 5.7.0 Authentication cancelled")
            return
        except ValueError:
            await self._reply(writer, "501 5.5.2 Cannot decode response")
            return
        if self._faults.fail_auth:
            await self._reply(writer, "535 5.7.8 Authentication credentials invalid")
            return
        with self._lock:
            self._logins.append(username)
        await self._reply(writer, "235 2.7.0 Authentication successful")

    async def _challenge(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, prompt: str
    ) -> str:
        await self._reply(writer, "334 " + base64.b64encode(prompt.encode()).decode())
        line = await _read_line(reader)
        response = line.decode("ascii", errors="replace").strip()
        if response == "*":
            raise _AuthCancelled
        return response

    def _take_421(self) -> bool:
        """Count one 421 answer; return whether the fault still applies."""
        with self._lock:
            times = self._faults.close_421_times
            if times is not None and self._421s_given >= times:
                return False
            self._421s_given += 1
            return True

    def _take_deferral(self, recipients: Collection[str]) -> bool:
        """Count one try for each deferred recipient; return whether any was deferred."""
        deferred = False
        with self._lock:
            for recipient in recipients:
                if self._deferrals_left.get(recipient, 0) > 0:
                    self._deferrals_left[recipient] -= 1
                    deferred = True
        return deferred

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, reply: str) -> None:
        writer.write(reply.encode() + b"\r\n")
        await writer.drain()


class _AuthCancelled(Exception):
    """The client answered an AUTH challenge with "*"."""


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """Return the next CRLF-terminated line; raise _Closed if the client left or rambles."""
    try:
        line = await reader.readline()
    except ValueError as error:  # a line longer than the stream limit
        raise _Closed(abruptly=True) from error
    if not line.endswith(b"\n"):
        raise _Closed  # end of stream: the client went away
    return line


def _path_argument(argument: str, *, keyword: str) -> str | None:
    """Return the address of ``FROM:<a@b> PARAMS`` / ``TO:<a@b>``; None if malformed."""
    if not argument.upper().startswith(keyword):
        return None
    path = argument[len(keyword) :].strip().split(" ", 1)[0]
    if not (path.startswith("<") and path.endswith(">")):
        return None
    return path[1:-1]


def _b64decode(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("Not base64 UTF-8.") from error


# --- refused_port ----------------------------------------------------------------------------

_refusing_socket: socket.socket | None = None
_refusing_socket_lock = threading.Lock()


def refused_port() -> int:
    """Return a loopback port where nothing listens, so connecting is refused.

    The port stays bound (without listening) for the rest of the process, so no server
    started later can take it and turn "refused" into "accepted".
    """
    global _refusing_socket
    with _refusing_socket_lock:
        if _refusing_socket is None:
            _refusing_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            _refusing_socket.bind((LOOPBACK, 0))
            atexit.register(_refusing_socket.close)
        return _refusing_socket.getsockname()[1]
