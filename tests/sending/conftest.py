"""Fixtures of the sending tests: real SMTP servers on loopback, and fast retries."""

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.smtp_servers import FaultySmtpServer, SmtpSink

SMTP_TIMEOUT = 1.0


def mailers_for(server, **options) -> dict:
    """MAILERS pointing at a loopback server (tests otherwise get Django's locmem backend)."""
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": server.host,
                "port": server.port,
                "username": "",
                "password": "",
                "use_tls": False,
                "use_ssl": False,
                "timeout": SMTP_TIMEOUT,
            }
            | options,
        }
    }


@pytest.fixture(autouse=True)
def _fast_sending(settings) -> None:
    """Short back-offs so retry tests take milliseconds; two connections per run."""
    settings.EMAIL_RETRY_DELAY = 0.01
    settings.EMAIL_RETRIES = 3
    settings.EMAIL_CONCURRENCY = 2
    settings.DEFAULT_FROM_EMAIL = "Магазин <shop@example.com>"


@pytest.fixture
def sink(settings) -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        settings.MAILERS = mailers_for(server)
        yield server


@pytest.fixture
def faulty(settings) -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as server:
        settings.MAILERS = mailers_for(server)
        yield server


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    """A throwaway CA for the loopback servers that speak TLS."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls_context(certificate_authority) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost, signed by the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def trusted_ca(certificate_authority, settings, tmp_path) -> Path:
    """The CA's certificate in the file the engine is told to trust (EMAIL_SSL_CAFILE).

    The engine does not verify certificates yet; once it does, these tests keep passing.
    """
    path = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    settings.EMAIL_SSL_CAFILE = str(path)
    return path
