# ruff: noqa: RUF001 - Russian text
"""What a run stored is told in the reader's language, whatever language the sender ran in:
the run's summary, a skipped client's reason and a failed letter's, on the pages and in the
report's CSV; the mail server's own words stay as they came."""

from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from core.models import Attempt, Client, Delivery
from core.outcomes import legacy_outcome, outcome_code, outcome_text, said
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import refused_port

pytestmark = pytest.mark.django_db


def send_in_russian(settings) -> None:
    """One tick of the sender run as a Russian installation runs it."""
    settings.LANGUAGE_CODE = "ru"
    with translation.override("ru"):
        call_command("send_mailings", stdout=StringIO())


def read(client, url: str, language: str) -> str:
    """The page (or the streamed CSV) at `url` as a reader who chose `language` sees it."""
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(url)
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


@pytest.fixture
def mailing_with_one_unsubscribed(user):
    clients = make_clients(owner=user, count=3)
    Client.objects.filter(pk=clients[1].pk).update(
        unsubscribed_at=timezone.now(), unsubscribe_source=Client.UnsubscribeSource.LINK
    )
    return make_mailing(owner=user, clients=clients)


def test_a_run_against_a_server_that_is_down_reads_in_the_readers_language(
    settings, user_client, mailing_with_one_unsubscribed
):
    mailing = mailing_with_one_unsubscribed
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    send_in_russian(settings)
    assert Attempt.objects.get(mailing=mailing).is_waiting_to_resume
    page_url = reverse("mailing-detail", args=[mailing.pk])
    csv_url = reverse("mailing-report-csv", args=[mailing.pk])

    english, russian = read(user_client, page_url, "en"), read(user_client, page_url, "ru")
    english_csv, russian_csv = read(user_client, csv_url, "en"), read(user_client, csv_url, "ru")

    assert "Cannot connect to the mail server at 127.0.0.1:" in english
    assert "Pending recipients are tried again at" in english
    assert "Не удалось" not in english and "Ожидающим" not in english
    assert "Не удалось подключиться к почтовому серверу 127.0.0.1:" in russian
    assert "Ожидающим получателям отправим повторно в" in russian
    # The operating system's words are not ours: the same in both.
    assert "Connection refused" in english and "Connection refused" in russian
    assert "Unsubscribed (link)" in english_csv and "Отписан" not in english_csv
    assert "Отписан (по ссылке)" in russian_csv


def test_a_failed_letter_reads_in_the_readers_language(settings, user, user_client, sink):
    clients = make_clients(owner=user, count=2)
    # A domain label longer than 63 characters has no IDNA form: that letter alone fails.
    Client.objects.filter(pk=clients[0].pk).update(email="a@" + "ü" * 70 + ".de")
    mailing = make_mailing(owner=user, clients=clients)
    send_in_russian(settings)
    assert Delivery.objects.get(mailing=mailing, status="failed")
    report_url = reverse("mailing-report", args=[mailing.pk])
    csv_url = reverse("mailing-report-csv", args=[mailing.pk])

    english, russian = read(user_client, report_url, "en"), read(user_client, report_url, "ru")
    english_csv, russian_csv = read(user_client, csv_url, "en"), read(user_client, csv_url, "ru")

    assert "The domain of the address cannot be written in ASCII (IDNA)." in english
    assert "The domain of the address cannot be written in ASCII (IDNA)." in english_csv
    assert "The domain of the address cannot be written in ASCII (IDNA)." not in russian
    assert "The domain of the address cannot be written in ASCII (IDNA)." not in russian_csv
    # The accepted letter's reply is the server's: the same in both.
    assert "250 " in english_csv and "250 " in russian_csv


def test_a_moment_is_stored_in_utc_and_shown_in_the_readers_time_zone():
    moment = timezone.datetime(2026, 1, 15, 9, 30, tzinfo=timezone.UTC)
    stored = said("stop.next_run", time=moment)

    assert "2026-01-15T09:30:00+00:00" in stored
    with translation.override("en"), timezone.override("Asia/Tokyo"):
        assert outcome_text(stored) == (
            "Not sent: the next run, at 2026-01-15 18:30, sends to every recipient."
        )


def test_texts_stored_before_outcomes_are_read_back_in_either_language():
    russian = (
        "Не удалось подключиться к почтовому серверу 127.0.0.1:25: [Errno 111] Connection "
        "refused Ожидающим получателям отправим повторно в 14:05."
    )
    summary = (
        "2 recipients refused: 550 5.1.1 no such user; "
        "1 recipient skipped (unsubscribed or bounced)"
    )

    with translation.override("en"):
        assert outcome_text(legacy_outcome(russian)) == (
            "Cannot connect to the mail server at 127.0.0.1:25: [Errno 111] Connection refused "
            "Pending recipients are tried again at 14:05."
        )
    with translation.override("ru"):
        assert outcome_text(legacy_outcome(summary)).startswith("2 получателя отклонены: 550")
    assert outcome_code(legacy_outcome("Отписан (по ссылке)")) == "skip.unsubscribed_link"


def test_what_is_not_an_outcome_is_shown_as_it_is():
    for text in ("550 5.1.1 mailbox unavailable", "Что-то своё", '{"outcome": broken', ""):
        assert legacy_outcome(text) == text
        assert outcome_text(text) == text
