"""Owners pause, resume and stop; a manager's disable and block hold sending back too. Against
a slow loopback SMTP server, so that a run is still going when it is asked to stop."""

import json
import threading
import time
from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, AuditEntry, Delivery, Mailing
from core.services import administration, sending, slots
from core.services.sending import claims
from tests.factories import PASSWORD, make_clients, make_mailing, make_user
from tests.sending.conftest import mailers_for
from tests.smtp_servers import SmtpSink

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "1"}
RECIPIENTS = 20


def run_due() -> str:
    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def toast(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["showMessage"]


def url(name: str, mailing: Mailing) -> str:
    return reverse(name, kwargs={"pk": mailing.pk})


class RunInBackground:
    """A claimed run of `mailing` sent by `attempt_run` in a thread, as `send_mailings` would,
    against a slow sink; `wait_for(n)` returns once the sink has n letters."""

    def __init__(self, mailing: Mailing, sink: SmtpSink) -> None:
        self.sink = sink
        opened = sending.mailing_send_start(mailing=mailing)
        self.attempt = claims.attempt_claim_open(now=timezone.now(), attempt_id=opened.pk)
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            sending.attempt_run(attempt=self.attempt)
        finally:
            connection.close()

    def wait_for(self, letters: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.sink.messages) < letters and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.sink.messages) >= letters

    def join(self) -> Attempt:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        self.attempt.refresh_from_db()
        return self.attempt


@pytest.fixture
def slow_sink(settings):
    """A server that takes 0.3 s per letter; two connections per run; progress written, and
    a stop request seen, at least every 0.25 s: less than one letter's time."""
    settings.SENDING_LEASE_SECONDS = 1.0
    with SmtpSink(delay=0.3) as server:
        settings.MAILERS = mailers_for(server)
        yield server


def assert_stopped(attempt: Attempt, sink: SmtpSink, *, reason: str) -> None:
    """Ended as stopped, its letters in flight recorded, the rest pending with the reason."""
    accepted = Delivery.objects.filter(attempt=attempt, status="accepted").count()
    pending = Delivery.objects.filter(attempt=attempt, status="pending")
    assert attempt.status == Attempt.Status.STOPPED
    assert (attempt.resume_at, attempt.lease_expires_at, attempt.quota_reserved) == (None, None, 0)
    assert accepted == len(sink.messages) == attempt.accepted_count
    assert pending.count() == attempt.pending_count == RECIPIENTS - accepted > 0
    assert {d.reply_text for d in pending} == {reason}
    assert attempt.response_text.startswith(reason)


@pytest.mark.django_db(transaction=True)
def test_stop_takes_effect_within_one_batch_and_the_run_is_not_resumed(user, slow_sink):
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=RECIPIENTS), next_run_at=None
    )
    run = RunInBackground(mailing, slow_sink)
    run.wait_for(3)

    sending.attempts_request_stop(
        attempts=Attempt.objects.filter(mailing=mailing), now=timezone.now()
    )
    sent_before = len(slow_sink.messages)
    attempt = run.join()

    # Seen at the next check, within one letter's time here: only the letters in flight and
    # at most one more per connection (two connections) went out after the request. (Counted
    # in letters, not seconds: a loaded machine stretches the seconds, not the letters.)
    assert len(slow_sink.messages) - sent_before <= 2 * 2
    assert_stopped(attempt, slow_sink, reason="Stopped on request.")
    sent = len(slow_sink.messages)
    run_due()
    assert len(slow_sink.messages) == sent


@pytest.mark.django_db(transaction=True)
def test_pausing_stops_the_open_run_and_resuming_goes_on_from_the_next_slot(
    user, user_client, slow_sink, settings
):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    run = RunInBackground(mailing, slow_sink)
    run.wait_for(2)

    response = user_client.post(url("mailing-pause", mailing))

    assert response.status_code == 302
    assert_stopped(run.join(), slow_sink, reason="Stopped: the mailing was paused.")
    mailing.refresh_from_db()
    assert mailing.paused_at is not None
    # Paused: the due slot is not sent, by cron nor by "Send now".
    sent = len(slow_sink.messages)
    assert run_due() == "No mailing is due.\n"
    user_client.post(url("mailing-send", mailing), CONFIRMED)
    assert Attempt.objects.filter(mailing=mailing).count() == 1
    assert len(slow_sink.messages) == sent

    now = timezone.now()
    user_client.post(url("mailing-resume", mailing))

    mailing.refresh_from_db()
    _slot, upcoming = slots.slot_and_next(
        schedule=mailing, moment=now, tz=ZoneInfo(settings.TIME_ZONE)
    )
    assert mailing.paused_at is None
    assert mailing.next_run_at == upcoming and mailing.next_run_at > now  # no backlog
    assert run_due() == "No mailing is due.\n"
    sending.mailings_send_due(now=mailing.next_run_at)
    assert Attempt.objects.filter(mailing=mailing, slot_at=upcoming).get().accepted_count == (
        RECIPIENTS
    )


def test_a_paused_due_mailing_is_not_sent_and_keeps_its_place(user, sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))  # due now
    due_at = mailing.next_run_at
    Mailing.objects.filter(pk=mailing.pk).update(paused_at=timezone.now())

    assert run_due() == "No mailing is due.\n"

    mailing.refresh_from_db()
    assert mailing.next_run_at == due_at and not Attempt.objects.exists() and not sink.messages


@pytest.mark.django_db(transaction=True)
def test_a_disabled_mailing_sends_nothing_and_its_open_run_stops(user, htmx_client, slow_sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    run = RunInBackground(mailing, slow_sink)
    run.wait_for(2)

    # As a manager's page would, straight on the row: the engine sees it by itself.
    Mailing.objects.filter(pk=mailing.pk).update(
        disabled_at=timezone.now(), disabled_reason="Spam complaints"
    )

    reason = "Stopped: a manager disabled the mailing (Spam complaints)."
    assert_stopped(run.join(), slow_sink, reason=reason)
    sent = len(slow_sink.messages)
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now())
    assert run_due() == "No mailing is due.\n"
    refused = htmx_client.post(url("mailing-send", mailing), CONFIRMED)
    assert toast(refused) == {
        "text": "A manager disabled this mailing: Spam complaints",
        "level": "warning",
    }
    assert len(slow_sink.messages) == sent
    assert Attempt.objects.filter(mailing=mailing).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_blocked_owners_mailing_sends_nothing_and_its_open_run_stops(user, slow_sink):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    run = RunInBackground(mailing, slow_sink)
    run.wait_for(2)

    user.blocked_at = timezone.now()
    user.save(update_fields=["blocked_at"])

    assert_stopped(run.join(), slow_sink, reason="Stopped: the owner's account is blocked.")
    sent = len(slow_sink.messages)
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now())
    assert run_due() == "No mailing is due.\n"
    out = StringIO()
    call_command("send_mailings", "--mailing", str(mailing.pk), stdout=out)
    assert "blocked" in out.getvalue()
    assert len(slow_sink.messages) == sent


def test_a_run_with_no_sender_is_stopped_at_once(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3), next_run_at=None)
    attempt = sending.mailing_send_start(mailing=mailing)  # opened, not taken by any sender

    response = htmx_client.post(url("mailing-stop", mailing), CONFIRMED)

    assert response.status_code == 204
    assert toast(response)["level"] == "success"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.pending_count) == ("stopped", 3)
    assert attempt.response_text == "Stopped on request. 3 recipients left pending."
    # A waiting run whose stop request nobody saw ends at the next cron tick.
    other = make_mailing(owner=user, clients=make_clients(owner=user, count=1, first=3))
    waiting = sending.mailing_send_start(mailing=other)
    Attempt.objects.filter(pk=waiting.pk).update(
        lease_expires_at=None,
        resume_at=timezone.now() + timedelta(minutes=5),
        stop_requested_at=timezone.now(),
    )
    run_due()
    assert Attempt.objects.get(pk=waiting.pk).status == "stopped"


def test_stop_asks_first_and_says_when_no_run_is_open(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1), next_run_at=None)

    question = htmx_client.post(url("mailing-stop", mailing))
    nothing = htmx_client.post(url("mailing-stop", mailing), CONFIRMED)

    assert question.status_code == 200 and "Stop the run of" in question.text
    assert 'name="confirmed"' in question.text
    assert toast(nothing) == {"text": "No run of this mailing is open.", "level": "warning"}


def test_the_page_shows_the_buttons_and_the_state(user_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1), next_run_at=None)

    page = user_client.get(url("mailing-detail", mailing)).text
    assert 'data-testid="pause"' in page and 'data-testid="stop"' not in page

    sending.mailing_send_start(mailing=mailing)
    user_client.post(url("mailing-pause", mailing))
    Mailing.objects.filter(pk=mailing.pk).update(
        disabled_at=timezone.now(), disabled_reason="Bought list"
    )
    page = user_client.get(url("mailing-detail", mailing)).text
    listing = user_client.get(reverse("mailing-list")).text

    assert 'data-testid="resume"' in page and 'data-testid="pause"' not in page
    assert 'data-testid="paused"' in page and 'data-testid="paused-at"' in page
    assert 'title="Bought list" data-testid="disabled"' in page and "Bought list" in page
    assert "Stopped" in page  # the run the pause stopped
    assert 'data-testid="paused"' in listing and 'title="Bought list"' in listing


def test_pause_and_resume_twice_say_so(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    first = htmx_client.post(url("mailing-pause", mailing))
    second = htmx_client.post(url("mailing-pause", mailing))
    resumed = htmx_client.post(url("mailing-resume", mailing))
    again = htmx_client.post(url("mailing-resume", mailing))

    assert first.status_code == 204 and "mailingListChanged" in first.headers["HX-Trigger"]
    assert toast(first)["text"] == "Mailing paused: nothing is sent until you resume it."
    assert toast(second)["text"] == "The mailing is paused already."
    assert toast(resumed)["text"] == "Mailing resumed: it goes on from its next run."
    assert toast(again)["text"] == "The mailing is not paused."


@pytest.mark.parametrize("name", ["mailing-pause", "mailing-resume", "mailing-stop"])
def test_the_actions_are_post_only(user_client, user, name):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    assert user_client.get(url(name, mailing)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_manager_blocking_the_owner_mid_run_stops_it_signs_them_out_and_is_on_record(
    user, slow_sink
):
    """The whole path a manager takes, through the manager's page, against a real run."""
    manager = make_user(email="mina@example.com", full_name="Mina")
    administration.managers_add(user=manager)
    managers_browser = HttpClient()
    managers_browser.force_login(manager)
    owners_browser = HttpClient()
    owners_browser.force_login(user)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    run = RunInBackground(mailing, slow_sink)
    run.wait_for(2)

    response = managers_browser.post(
        reverse("manage-user-block", kwargs={"pk": user.pk}), {"reason": "Spam complaints"}
    )

    assert response.status_code in (204, 302)
    assert_stopped(run.join(), slow_sink, reason="Stopped: the owner's account is blocked.")
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.user, entry.action, entry.reason) == (
        manager,
        user,
        AuditEntry.Action.BLOCK_USER,
        "Spam complaints",
    )
    # Signed out at the next request, and the right password no longer signs them in.
    assert owners_browser.get(reverse("home")).status_code == 302
    sign_in = HttpClient().post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert sign_in.status_code == 200
    assert "blocked" in sign_in.content.decode()
