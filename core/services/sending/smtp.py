"""One SMTP connection: connect, greet, encrypt, log in, send commands, and map what the
server does (refusals, timeouts, drops, garbage) onto replies a person can read."""

import logging
import re
import smtplib
import ssl
from functools import partial

from django.conf import settings
from django.core.mail.utils import DNS_NAME

from core.outcomes import said

logger = logging.getLogger(__name__)


class SessionError(Exception):
    """The session cannot go on (refused, timed out, dropped, garbage): the run stops."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class SessionDropped(SessionError):
    """The server closed the connection; harmless only between two messages."""


class Session:
    """One SMTP connection of a worker, opened on first use and after the server drops it."""

    def __init__(self, *, options: dict, timeout: float, local_hostname: str = "") -> None:
        self.options = options
        self.timeout = timeout
        # The name in EHLO: receiving servers score a letter from "localhost" or a name that is
        # not fully qualified as spam (EMAIL_LOCAL_HOSTNAME, see identity.ehlo_name).
        self.local_hostname = local_hostname
        self.smtp: smtplib.SMTP | None = None
        self.eight_bit = False
        self.smtputf8 = False
        self.mail_options = ""
        self.pipelining = False

    def open(self) -> bool:
        """Connect, greet, encrypt and log in unless connected; return whether it connected."""
        if self.smtp is not None:
            return False
        options = self.options
        host, port = options.get("host") or "localhost", options.get("port")
        use_ssl, use_tls = options.get("use_ssl"), options.get("use_tls")
        port = port or (465 if use_ssl else 587 if use_tls else 25)
        context = tls_context() if use_ssl or use_tls else None
        smtp_class = partial(smtplib.SMTP_SSL, context=context) if use_ssl else smtplib.SMTP
        try:
            smtp = smtp_class(
                host,
                port,
                local_hostname=self.local_hostname or DNS_NAME.get_fqdn(),
                timeout=self.timeout,
            )
        except smtplib.SMTPConnectError as error:
            raise refusal("smtp.refused_connection", error) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as error:
            if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
                raise SessionError(
                    said(
                        "smtp.no_answer_from",
                        server=f"{host}:{port}",
                        seconds=f"{self.timeout:g}",
                    )
                ) from None
            raise SessionError(said("smtp.closed")) from None
        except ssl.SSLCertVerificationError as error:
            raise unverified(error) from None
        except OSError as error:
            raise SessionError(
                said("smtp.cannot_connect", server=f"{host}:{port}", error=error)
            ) from None
        self.smtp = smtp
        try:
            self.command(smtp.ehlo_or_helo_if_needed)
            if use_tls and not use_ssl:
                self.command(smtp.starttls, context=context)
                self.command(smtp.ehlo)
            if options.get("username") and options.get("password"):
                self.command(smtp.login, options["username"], options["password"])
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            raise SessionError(said("smtp.refused_login", reply=reply_of(error))) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            raise refusal("smtp.refused_session", error) from None
        except smtplib.SMTPException as error:
            self.close()
            raise SessionError(said("smtp.session_failed", error=error)) from None
        self.eight_bit = smtp.has_extn("8bitmime")
        # RFC 6531: only then may an address have a non-ASCII local part (MAIL ... SMTPUTF8).
        self.smtputf8 = smtp.has_extn("smtputf8")
        if self.smtputf8:
            smtp.command_encoding = "utf-8"  # smtplib sets it only in its own mail()
        self.mail_options = " BODY=8BITMIME" if self.eight_bit else ""
        # RFC 2920: MAIL, RCPT and DATA may then go in one write, their replies read in order.
        self.pipelining = smtp.has_extn("pipelining")
        return True

    def mail_from(self, sender: str, *, smtputf8: bool = False) -> str:
        """The argument of MAIL for `sender`: with BODY=8BITMIME when the server takes it, and
        SMTPUTF8 for a letter whose addresses need it."""
        return f"FROM:<{sender}>{self.mail_options}{' SMTPUTF8' if smtputf8 else ''}"

    def send_command(self, verb: str, argument: str) -> tuple[int, bytes]:
        """One command and its reply. Unlike smtplib's mail() and rcpt(), the addresses are
        not parsed again: they were checked once, and parsing costs more than sending."""
        self.smtp.putcmd(verb, argument)
        return self.smtp.getreply()

    def send_commands(self, commands: list[tuple[str, str]]) -> list[tuple[int, str]]:
        """Several commands in one write (PIPELINING) and their replies, in order. Reading
        stops at a 421: the server is closing the connection and answers nothing more."""
        lines = (f"{verb} {argument}" if argument else verb for verb, argument in commands)
        self.smtp.send("".join(f"{line}\r\n" for line in lines))
        replies = []
        for _ in commands:
            code, reply = self.smtp.getreply()
            replies.append((code, decode(reply)))
            if code == 421:
                break
        return replies

    def send_content(self, content: bytes) -> tuple[int, bytes]:
        """After DATA's 354: the message, dot-stuffed, and its end; return the reply."""
        content = _LEADING_DOT.sub(b"..", content)
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        self.smtp.send(content + b".\r\n")
        return self.smtp.getreply()

    def abandon(self) -> None:
        """Close the connection without a word, as in the middle of DATA: any QUIT would be
        read as part of the message, and only a closed connection leaves it undelivered."""
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            smtp.close()

    def command(self, method, *args, **kwargs):
        """Run one smtplib call; turn a timeout or a lost connection into a stop of the run."""
        try:
            result = method(*args, **kwargs)
        except smtplib.SMTPServerDisconnected as error:
            self.close()
            # smtplib reports a read that timed out as a disconnection.
            if isinstance(error.__context__, TimeoutError):
                raise self._timed_out() from None
            raise SessionDropped(said("smtp.closed")) from None
        except smtplib.SMTPException:
            raise  # a reply the caller reads (refusals, failed login)
        except TimeoutError:
            self.close()
            raise self._timed_out() from None
        except ssl.SSLCertVerificationError as error:  # STARTTLS
            self.close()
            raise unverified(error) from None
        except OSError as error:
            self.close()
            raise SessionError(said("smtp.broke", error=error)) from None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
            return result[0], decode(result[1])
        return result

    def _timed_out(self) -> SessionError:
        return SessionError(said("smtp.no_answer", seconds=f"{self.timeout:g}"))

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.sock.settimeout(min(self.timeout, 2.0))
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def tls_context() -> ssl.SSLContext:
    """How connections encrypt: the certificate and host name verified, as browsers do,
    against the system's CAs or only those of EMAIL_SSL_CAFILE; not at all when
    EMAIL_SSL_VERIFY is off (`warn_if_unverified` says so at every run)."""
    cafile = settings.EMAIL_SSL_CAFILE or None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise SessionError(said("smtp.cafile", file=cafile, error=error)) from None
    if not settings.EMAIL_SSL_VERIFY:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def warn_if_unverified(options: dict) -> None:
    """Log a warning when this run's connections are encrypted without verifying the server."""
    if settings.EMAIL_SSL_VERIFY or not (options.get("use_tls") or options.get("use_ssl")):
        return
    logger.warning(
        "EMAIL_SSL_VERIFY is off: the certificate of the mail server at %s is not verified, "
        "so anyone on the way can read the letters and the password.",
        options.get("host") or "localhost",
    )


def unverified(error: ssl.SSLCertVerificationError) -> SessionError:
    reason = (error.verify_message or error.reason or str(error)).rstrip(".")
    return SessionError(said("smtp.unverified", reason=reason))


def refusal(code: str, error: smtplib.SMTPResponseException) -> SessionError:
    """The server's refusal `error` told as outcome `code` (whose `reply` is its reply); a
    reply without a code is unintelligible."""
    if error.smtp_code == -1:
        return SessionError(unintelligible(error.smtp_error))
    return SessionError(said(code, reply=reply_of(error)))


def reply_of(error: smtplib.SMTPResponseException) -> str:
    """The server's reply that `error` carries, code and text on one line."""
    return f"{error.smtp_code} {decode(error.smtp_error)}"


def unintelligible(reply: bytes | str) -> str:
    return said("smtp.unintelligible", reply=decode(reply))


def decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
