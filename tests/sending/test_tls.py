"""Encrypted connections verify the mail server: STARTTLS and implicit TLS against an aiosmtpd
server on loopback whose certificate comes from a throwaway CA (trustme)."""

import logging
import ssl
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import trustme
from django.core.management import call_command

from core.models import Attempt, Delivery
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for

# The aiosmtpd controller of tests.smtp_servers, which listens on a port the OS picks.
from tests.smtp_servers import LOOPBACK, _LoopbackController

pytestmark = pytest.mark.django_db

MODES = ["starttls", "ssl"]


class _Recorder:
    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.recipients.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


class TlsServer:
    """An aiosmtpd server presenting `certificate`: STARTTLS on offer, or TLS from the start."""

    def __init__(self, *, certificate: trustme.LeafCert, mode: str) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self.host, self.mode = LOOPBACK, mode
        self.handler = _Recorder()
        tls = {"ssl_context": context} if mode == "ssl" else {"tls_context": context}
        self._controller = _LoopbackController(
            self.handler, hostname=LOOPBACK, port=0, server_hostname="tls.test", **tls
        )

    def __enter__(self) -> "TlsServer":
        self._controller.start()
        self.port = self._controller.port
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(params=MODES)
def server(request, ca, settings) -> Iterator[TlsServer]:
    """A server whose certificate names 127.0.0.1, the address the sender connects to."""
    with TlsServer(certificate=ca.issue_cert(LOOPBACK), mode=request.param) as server:
        settings.MAILERS = mailers_for(
            server, use_tls=server.mode == "starttls", use_ssl=server.mode == "ssl"
        )
        yield server


def send_mailings() -> str:
    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def assert_stopped_unverified(mailing, out: str, *, says: str) -> None:
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.is_waiting_to_resume  # stopped, to resume once the operator fixed it
    assert attempt.response_text.startswith(
        f"The mail server's certificate could not be verified: {says}"
    )
    assert Delivery.objects.filter(mailing=mailing).exclude(status="pending").count() == 0
    assert "running, sent 0, failed 0, pending 2" in out


def test_a_certificate_from_an_unknown_ca_stops_the_run(server, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    out = send_mailings()

    assert server.handler.recipients == []
    assert_stopped_unverified(mailing, out, says="unable to get local issuer certificate")


def test_the_ca_of_email_ssl_cafile_is_trusted(server, ca_file, user, settings):
    settings.EMAIL_SSL_CAFILE = str(ca_file)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    out = send_mailings()

    assert sorted(server.handler.recipients) == ["client0@example.com", "client1@example.com"]
    assert Attempt.objects.get(mailing=mailing).status == "success"
    assert "success, sent 2" in out


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_for_another_host_stops_the_run(ca, ca_file, user, settings, mode):
    settings.EMAIL_SSL_CAFILE = str(ca_file)
    with TlsServer(certificate=ca.issue_cert("mail.example.org"), mode=mode) as server:
        settings.MAILERS = mailers_for(server, use_tls=mode == "starttls", use_ssl=mode == "ssl")
        mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

        out = send_mailings()

    assert server.handler.recipients == []
    assert_stopped_unverified(mailing, out, says="IP address mismatch")


def test_verification_switched_off_sends_and_warns_at_every_run(server, user, settings, caplog):
    settings.EMAIL_SSL_VERIFY = False
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    with caplog.at_level(logging.WARNING, logger="core.services.sending"):
        send_mailings()
        call_command("send_mailings", "--mailing", str(mailing.pk), stdout=StringIO())

    assert len(server.handler.recipients) == 4
    warnings = [r for r in caplog.records if "EMAIL_SSL_VERIFY is off" in r.getMessage()]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in warnings)


def test_an_unreadable_ca_file_stops_the_run_saying_so(server, user, settings, tmp_path):
    settings.EMAIL_SSL_CAFILE = str(tmp_path / "missing.pem")
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    send_mailings()

    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.is_waiting_to_resume
    assert "missing.pem (EMAIL_SSL_CAFILE) cannot be read" in attempt.response_text


def test_a_plain_connection_logs_no_warning(sink, user, settings, caplog):
    settings.EMAIL_SSL_VERIFY = False  # nothing to verify without TLS
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    with caplog.at_level(logging.WARNING, logger="core.services.sending"):
        send_mailings()

    assert len(sink.messages) == 1
    assert not [r for r in caplog.records if "EMAIL_SSL_VERIFY" in r.getMessage()]
