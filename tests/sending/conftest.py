"""Fixtures of the sending tests: real SMTP servers on loopback, and fast retries."""

from collections.abc import Iterator

import pytest

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
