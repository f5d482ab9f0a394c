"""Sending limits: one open run per mailing whatever the clicks, "Send now" asks first, one
sender per run, and the daily letter quota of each user, shared by all of their runs."""

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from core.models import Attempt, Delivery, Mailing
from core.outcomes import outcome_text
from core.services import sending
from core.services.sending import claims
from core.services.sending.quota import day_bounds
from tests.factories import make_clients, make_mailing, make_user
from tests.sending.conftest import mailers_for
from tests.sending.processes import sender_environment, start_sender
from tests.smtp_servers import SmtpSink

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "1"}


def send_url(mailing: Mailing) -> str:
    return reverse("mailing-send", kwargs={"pk": mailing.pk})


def toast(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["showMessage"]


def run_due() -> str:
    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


# "Send now" asks first.


def test_send_now_asks_first_in_the_modal_and_starts_nothing(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3), next_run_at=None)

    response = htmx_client.post(send_url(mailing))

    assert response.status_code == 200
    assert "now to its 3 recipients?" in response.text
    assert 'name="confirmed"' in response.text
    assert f'hx-post="{send_url(mailing)}"' in response.text
    assert "It has not gone out yet." in response.text
    assert not Attempt.objects.exists()


def test_the_question_says_when_the_mailing_last_went_out(user_client, user, sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1), next_run_at=None)
    user_client.post(send_url(mailing), CONFIRMED)
    run_due()
    went_out = date_format(
        timezone.localtime(Attempt.objects.get().attempted_at), "SHORT_DATETIME_FORMAT"
    )

    # Without JavaScript the question is a page of its own, with the same form.
    page = user_client.post(send_url(mailing))

    assert page.status_code == 200 and "<html" in page.text
    assert "It last went out on" in page.text
    assert went_out in page.text
    detail = user_client.get(reverse("mailing-detail", kwargs={"pk": mailing.pk}))
    assert f'data-testid="last-sent">{went_out}<' in detail.text


# One open run per mailing.


def test_send_now_while_a_run_is_open_warns_and_starts_nothing(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    htmx_client.post(send_url(mailing), CONFIRMED)

    again = htmx_client.post(send_url(mailing), CONFIRMED)

    assert again.status_code == 204
    assert toast(again) == {
        "text": "A run of this mailing is still open: nothing new was started.",
        "level": "warning",
    }
    assert "mailingSent" not in json.loads(again.headers["HX-Trigger"])
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_a_run_waiting_to_resume_is_open_too(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    attempt = sending.mailing_send_start(mailing=mailing)
    Attempt.objects.filter(pk=attempt.pk).update(
        lease_expires_at=None, resume_at=timezone.now() + timedelta(minutes=5)
    )

    response = htmx_client.post(send_url(mailing), CONFIRMED)

    assert toast(response)["level"] == "warning"
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_the_scheduled_run_waits_while_a_run_of_the_mailing_is_open(user, sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))  # due now
    opened = sending.mailing_send_start(mailing=mailing)
    # Its sender holds the run (the lease is live): the cron tick neither takes it nor opens
    # the due slot's run beside it.
    Attempt.objects.filter(pk=opened.pk).update(
        lease_token="elsewhere", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert run_due() == "No mailing is due.\n"
    assert Attempt.objects.filter(mailing=mailing).count() == 1

    Attempt.objects.filter(pk=opened.pk).update(status=Attempt.Status.SUCCESS)
    run_due()
    assert Attempt.objects.filter(mailing=mailing).count() == 2


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_send_now_requests_open_one_run_and_each_recipient_gets_one_letter(
    user, sink
):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=5), next_run_at=None)
    start = threading.Barrier(8)
    answers: list = []

    def click() -> None:
        client = HttpClient(headers={"HX-Request": "true"})
        client.force_login(user)
        try:
            start.wait(timeout=10)
            answers.append(client.post(send_url(mailing), CONFIRMED))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert sorted(toast(answer)["level"] for answer in answers) == ["info"] + ["warning"] * 7
    assert Attempt.objects.filter(mailing=mailing).count() == 1
    run_due()
    run_due()
    recipients = sorted(r for message in sink.messages for r in message.recipients)
    assert recipients == [f"client{n}@example.com" for n in range(5)]


@pytest.mark.django_db(transaction=True)
def test_a_second_detached_sender_of_one_run_exits_quietly(user, settings):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=6), next_run_at=None)
    attempt = sending.mailing_send_start(mailing=mailing)

    with SmtpSink(delay=0.1) as server:
        env = sender_environment(server)
        first = start_sender("--attempt", str(attempt.pk), env=env)
        second = start_sender("--attempt", str(attempt.pk), env=env)
        outputs = [process.communicate(timeout=180)[0] for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0]
    assert sum("has a sender already or is over" in output for output in outputs) == 1, outputs
    assert len(server.messages) == 6
    assert Attempt.objects.get(pk=attempt.pk).accepted_count == 6


def test_send_mailings_for_a_mailing_with_an_open_run_says_so(user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1), next_run_at=None)
    sending.mailing_send_start(mailing=mailing)
    out = StringIO()

    call_command("send_mailings", "--mailing", str(mailing.pk), stdout=out)

    assert "still open" in out.getvalue()
    assert Attempt.objects.filter(mailing=mailing).count() == 1


# The daily quota.


def test_a_run_that_reaches_the_daily_quota_sends_up_to_it_and_leaves_the_rest_pending(
    user, sink, settings
):
    settings.DAILY_LETTER_QUOTA = 3
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=5), next_run_at=None)

    report = sending.mailing_send_now(mailing=mailing)

    reason = "Daily quota of 3 letters reached; the rest go out after midnight."
    assert (report.accepted, report.pending, report.status) == (3, 2, "running")
    assert len(sink.messages) == 3
    attempt = Attempt.objects.get()
    assert attempt.response_text == reason
    assert attempt.resume_at == day_bounds(timezone.now())[1]
    assert (attempt.resumes, attempt.quota_reserved) == (0, 0)
    pending = Delivery.objects.filter(attempt=attempt, status="pending")
    assert [d.reply_text for d in pending] == [reason, reason]

    # Before midnight nothing more goes; after it, the rest.
    assert run_due() == "No mailing is due.\n"
    Delivery.objects.filter(status="accepted").update(sent_at=timezone.now() - timedelta(days=1))
    sending.mailings_send_due(now=attempt.resume_at + timedelta(seconds=1))

    attempt.refresh_from_db()
    assert (attempt.status, attempt.accepted_count, attempt.pending_count) == ("success", 5, 0)
    assert len(sink.messages) == 5


def test_a_users_own_quota_overrides_the_setting(user, sink, settings):
    settings.DAILY_LETTER_QUOTA = 100
    user.daily_quota = 2
    user.save(update_fields=["daily_quota"])
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=4), next_run_at=None)

    report = sending.mailing_send_now(mailing=mailing)

    assert (report.accepted, report.pending) == (2, 2)
    assert outcome_text(report.server_response).startswith("Daily quota of 2 letters reached")


def test_the_quota_counts_letters_already_sent_today_and_not_other_users(user, sink, settings):
    settings.DAILY_LETTER_QUOTA = 3
    other = make_user(email="boris@example.com")
    theirs = make_mailing(owner=other, clients=make_clients(owner=other, count=3), next_run_at=None)
    sending.mailing_send_now(mailing=theirs)
    first = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    sending.mailing_send_now(mailing=first)
    second = make_mailing(
        owner=user, clients=make_clients(owner=user, count=2, first=2), next_run_at=None
    )

    report = sending.mailing_send_now(mailing=second)

    assert (report.accepted, report.pending) == (1, 1)
    assert len(sink.messages) == 3 + 2 + 1


def test_a_quota_run_ends_when_the_mailings_next_run_comes_before_midnight(user, sink, settings):
    settings.DAILY_LETTER_QUOTA = 1
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now())

    report = sending.mailing_send_now(mailing=mailing)

    assert (report.status, report.accepted, report.pending) == ("failure", 1, 1)
    assert outcome_text(report.server_response) == (
        "Daily quota of 1 letter reached; the rest go out with the next run."
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_user_share_the_quota_and_never_pass_it(user, settings):
    settings.DAILY_LETTER_QUOTA = 7
    settings.EMAIL_CONCURRENCY = 2
    mailings = [
        make_mailing(
            owner=user,
            clients=make_clients(owner=user, count=6, first=6 * n),
            next_run_at=None,
        )
        for n in range(3)
    ]
    opened = [sending.mailing_send_start(mailing=mailing) for mailing in mailings]
    attempts = [
        claims.attempt_claim_open(now=timezone.now(), attempt_id=attempt.pk) for attempt in opened
    ]
    start = threading.Barrier(len(attempts))

    def run(attempt: Attempt) -> None:
        try:
            start.wait(timeout=10)
            sending.attempt_run(attempt=attempt)
        finally:
            connection.close()

    with SmtpSink(delay=0.05) as server:
        settings.MAILERS = mailers_for(server)
        threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)

    # Three runs of 6 at once, 2 connections each: exactly the quota went out, no more.
    assert len(server.messages) == 7
    assert Delivery.objects.filter(owner=user, status="accepted").count() == 7
    assert Delivery.objects.filter(owner=user, status="pending").count() == 11
    assert not Attempt.objects.exclude(quota_reserved=0).exists()
