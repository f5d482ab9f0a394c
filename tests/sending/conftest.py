"""Fixtures of the sending tests: real SMTP servers on loopback and mailings ready to run."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import Client, Mailing, Message, User
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


@pytest.fixture
def make_mailing(db):
    """Build a mailing of `owner`'s message to clients `first`..`first + count - 1`, due now."""

    def make(
        owner: User,
        *,
        count: int = 3,
        subject: str = "Весенняя распродажа",
        body: str = "Здравствуйте!\nСкидки до 50%.\n.точка в начале строки\n",  # noqa: RUF001 - Russian text
        start_at=None,
        end_at=None,
        periodicity: str = "daily",
        names: list[str] | None = None,
        first: int = 0,
    ) -> Mailing:
        now = timezone.now()
        start_at = start_at or now - timedelta(minutes=1)
        message = Message.objects.create(owner=owner, subject=subject, body=body)
        mailing = Mailing.objects.create(
            owner=owner,
            message=message,
            start_at=start_at,
            end_at=end_at or start_at + timedelta(days=30),
            periodicity=periodicity,
            next_run_at=start_at,
        )
        known = {c.email: c for c in Client.objects.filter(owner=owner)}
        clients = Client.objects.bulk_create(
            Client(
                owner=owner,
                email=f"client{n}@example.com",
                full_name=(names[n - first] if names else f"Клиент Номер {n}"),
            )
            for n in range(first, first + count)
            if f"client{n}@example.com" not in known
        )
        wanted = {f"client{n}@example.com" for n in range(first, first + count)}
        mailing.clients.add(*clients, *(c for e, c in known.items() if e in wanted))
        return mailing

    return make
