"""Shutting down and recovering cleanly: a sender stopped by a signal, a server that says 421
or hangs, a mailing deleted or paused during its run, and a run overtaken by its mailing's
next slot or end."""

import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import Attempt, Mailing, Periodicity
from core.services import sending
from core.services.scheduling import mailing_pause
from core.services.sending import mailing_send_enqueue
from core.services.sending.claims import LATE_AFTER_END
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.sending.processes import sender_environment, start_sender, wait_for
from tests.smtp_servers import SmtpSink, refused_port
from tests.tasks import start_worker


def run_due() -> str:
    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def received(server) -> Counter:
    return Counter(r for message in server.messages for r in message.recipients)


# --- SIGTERM and SIGINT ----------------------------------------------------------------------

RECIPIENTS = 40
EMAIL_TIMEOUT = 5  # what sender_environment gives the child


def held_after_six(release: threading.Event) -> SmtpSink:
    """A server that takes six letters, then holds the next ones until `release`: the signal
    comes mid-run however slowly the test sees the progress, with the letters in flight that
    the sender finishes once released (each takes 50 ms, so the signal is seen long before
    the run's end). The sender writes its progress when it ends, so the test watches the
    server, not the run's counts."""
    return SmtpSink(delay=0.05, hold=release, hold_after=6)


def assert_released_mid_run(attempt: Attempt) -> None:
    """Left open, with no holder and a lease that is already over: the next sender's now."""
    attempt.refresh_from_db()
    assert attempt.status == "running"
    assert attempt.lease_token == "" and attempt.resume_at is None
    assert attempt.lease_expires_at <= timezone.now()
    assert 0 < attempt.accepted_count < RECIPIENTS
    assert attempt.accepted_count + attempt.pending_count == RECIPIENTS


def finish_and_count(sink: SmtpSink, attempt: Attempt, started: float) -> Counter:
    """A new sender, with the default one-minute lease, takes the run over at once."""
    sender = start_sender(env=sender_environment(sink, SENDING_LEASE_SECONDS="60"))
    output, _ = sender.communicate(timeout=180)
    assert sender.returncode == 0, output
    attempt.refresh_from_db()
    assert (attempt.status, attempt.accepted_count) == ("success", RECIPIENTS), output
    # Long before the killed sender's lease would have run out.
    assert time.monotonic() - started < 60
    return received(sink)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_sender_finishes_its_letters_releases_the_run_and_exits_0(user, signal_number):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    release = threading.Event()
    with held_after_six(release) as sink:
        started = time.monotonic()
        sender = start_sender(env=sender_environment(sink, SENDING_LEASE_SECONDS="60"))
        wait_for(lambda: len(sink.messages) == 6, timeout=180)
        signalled = time.monotonic()
        os.kill(sender.pid, signal_number)
        release.set()
        output, _ = sender.communicate(timeout=EMAIL_TIMEOUT + 10)
        assert time.monotonic() - signalled < EMAIL_TIMEOUT + 3
        assert sender.returncode == 0, output
        assert "Traceback" not in output
        attempt = Attempt.objects.get(mailing=mailing)
        assert_released_mid_run(attempt)
        assert f"attempt {attempt.pk}: running" in output
        # Every letter the server took before the signal is in the ledger.
        assert len(sink.messages) == attempt.accepted_count

        counts = finish_and_count(sink, attempt, started)
    assert set(counts) == {f"client{n}@example.com" for n in range(RECIPIENTS)}
    # At most one letter per connection (two) went twice; here, with the letters in flight
    # recorded before the exit, none.
    assert sum(counts.values()) - RECIPIENTS <= 2
    assert max(counts.values()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_signalled_task_worker_releases_the_run_it_sends_and_exits_0(user):
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=RECIPIENTS), next_run_at=None
    )
    attempt = sending.mailing_send_start(mailing=mailing)
    mailing_send_enqueue(attempt_id=attempt.pk)
    release = threading.Event()
    with held_after_six(release) as sink:
        started = time.monotonic()
        worker = start_worker(env=sender_environment(sink, SENDING_LEASE_SECONDS="60"))
        wait_for(lambda: len(sink.messages) == 6, timeout=180)
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        release.set()
        output, _ = worker.communicate(timeout=EMAIL_TIMEOUT + 10)
        assert time.monotonic() - signalled < EMAIL_TIMEOUT + 3
        assert worker.returncode == 0, output
        assert "Traceback" not in output
        assert_released_mid_run(attempt)
        assert len(sink.messages) == attempt.accepted_count

        counts = finish_and_count(sink, attempt, started)
    assert counts == Counter({f"client{n}@example.com": 1 for n in range(RECIPIENTS)})


# --- 421 and a server that hangs -------------------------------------------------------------


@pytest.mark.django_db
def test_421_backs_off_for_the_server_then_reconnects_once(faulty, user, settings):
    settings.EMAIL_CONCURRENCY = 2
    faulty.configure(close_421_at="MAIL", close_421_times=1)
    make_mailing(owner=user, clients=make_clients(owner=user, count=20))

    run_due()

    assert received(faulty) == Counter({f"client{n}@example.com": 1 for n in range(20)})
    # Two connections, and one new one for the connection the server closed.
    assert faulty.connection_count == 3
    assert Attempt.objects.get().status == "success"


@pytest.mark.django_db
def test_a_server_that_keeps_saying_421_is_reconnected_to_a_few_times_not_per_recipient(
    faulty, user, settings
):
    settings.EMAIL_CONCURRENCY = 1
    faulty.configure(close_421_at="MAIL")
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=20))

    out = run_due()

    # The first connection, then one reconnect after each back-off: EMAIL_RETRIES of them.
    assert faulty.connection_count == 1 + settings.EMAIL_RETRIES
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.pending_count, attempt.failed_count) == ("running", 20, 0)
    assert attempt.resume_at is not None  # tried again later, as when the server is down
    assert "421" in out


@pytest.mark.django_db
def test_a_hanging_server_costs_one_timeout_per_tick_and_the_other_mailings_stay_due(faulty, user):
    faulty.configure(hang_at="CONNECT")
    mailings = [
        make_mailing(owner=user, clients=make_clients(owner=user, count=2, first=2 * n))
        for n in range(4)
    ]
    due_at = {mailing.pk: mailing.next_run_at for mailing in mailings}

    run_due()

    # One timeout per connection of the one run tried (two connections): no retry opened
    # another, and no other mailing was tried after it.
    assert faulty.connection_count == 2
    (tried,) = Attempt.objects.all()
    assert "No answer from the mail server" in tried.response_text
    waiting = Mailing.objects.exclude(pk=tried.mailing_id)
    assert {m.pk: m.next_run_at for m in waiting} == {
        pk: at for pk, at in due_at.items() if pk != tried.mailing_id
    }

    # The server is back: the next tick sends the mailings that waited.
    faulty.reset()
    run_due()
    assert Attempt.objects.filter(status="success").count() == 3
    assert len(received(faulty)) == 6


@pytest.mark.django_db
def test_the_server_rests_between_ticks_of_one_process(faulty, user, settings):
    settings.EMAIL_SERVER_REST_SECONDS = 60
    faulty.configure(hang_at="CONNECT")
    make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    run_due()
    other = make_mailing(owner=user, clients=make_clients(owner=user, count=2, first=2))
    faulty.reset()

    run_due()  # within the rest: nothing is tried

    assert not Attempt.objects.filter(mailing=other).exists()
    assert faulty.connection_count == 0
    settings.EMAIL_SERVER_REST_SECONDS = 0
    sending.runs.server_rest()  # the rest is over


# --- A mailing deleted or paused during its run ----------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("act", ["delete", "pause"])
def test_a_mailing_deleted_or_paused_mid_run_ends_it_and_the_others_still_go_out(user, act):
    first = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    second = make_mailing(owner=user, clients=make_clients(owner=user, count=3, first=RECIPIENTS))
    Mailing.objects.filter(pk=second.pk).update(
        next_run_at=first.next_run_at + timedelta(seconds=1)
    )
    with SmtpSink(delay=0.2) as sink:  # slow: the run is still going when it is acted on
        sender = start_sender(env=sender_environment(sink, SENDING_LEASE_SECONDS="60"))
        wait_for(
            lambda: Attempt.objects.filter(mailing=first, accepted_count__gte=4).exists(),
            timeout=30,
        )
        if act == "delete":
            first.delete()
        else:
            mailing_pause(mailing=first, now=timezone.now())
        output, _ = sender.communicate(timeout=180)

        assert sender.returncode == 0, output
        assert "Traceback" not in output
        assert f"mailing {second.pk} attempt" in output
        counts = received(sink)
    assert all(counts[f"client{n}@example.com"] == 1 for n in range(RECIPIENTS, RECIPIENTS + 3))
    assert sum(counts.values()) < RECIPIENTS + 3  # the first run ended early
    assert Attempt.objects.get(mailing=second).status == "success"
    if act == "pause":
        assert Attempt.objects.get(mailing=first).status == "stopped"


# --- A run overtaken by its mailing's next slot or end ---------------------------------------


@pytest.mark.django_db
def test_an_outage_past_the_next_slot_sends_one_letter_per_recipient_per_slot(user, settings):
    settings.EMAIL_RESUME_AFTER = 60
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=3), periodicity=Periodicity.DAILY
    )
    sending.mailings_send_due()  # the server is down: the first slot's run waits to resume
    (first,) = Attempt.objects.all()
    assert first.status == "running" and first.resume_at is not None
    mailing.refresh_from_db()
    next_slot = mailing.next_run_at

    # Nothing runs until after the next slot; then the server and a sender are back.
    with SmtpSink() as sink:
        settings.MAILERS = mailers_for(sink)
        sending.mailings_send_due(now=next_slot + timedelta(minutes=5))
        counts = received(sink)

    assert counts == Counter({f"client{n}@example.com": 1 for n in range(3)})
    first.refresh_from_db()
    assert (first.status, first.accepted_count, first.pending_count) == ("failure", 0, 3)
    assert first.response_text.startswith("Not sent: the next run")
    second = Attempt.objects.get(slot_at=next_slot)
    assert (second.status, second.accepted_count) == ("success", 3)


@pytest.mark.django_db
def test_a_slot_missed_during_downtime_past_the_mailings_end_is_never_sent(user, sink):
    now = timezone.now()
    mailing = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=3),
        start_at=now - timedelta(hours=2),  # its only slot; nothing ran until now
        end_at=now - timedelta(hours=1),
    )

    run_due()

    assert sink.messages == []
    assert not Attempt.objects.exists()
    mailing.refresh_from_db()
    assert (mailing.status, mailing.next_run_at) == ("finished", None)


@pytest.mark.django_db
def test_a_run_waiting_to_resume_when_the_mailing_ends_is_closed(user, settings):
    settings.EMAIL_RESUME_AFTER = 60
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    now = timezone.now()
    mailing = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=3),
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(minutes=30),
    )
    sending.mailings_send_due()
    (attempt,) = Attempt.objects.all()
    assert attempt.resume_at is not None

    with SmtpSink() as sink:
        settings.MAILERS = mailers_for(sink)
        sending.mailings_send_due(now=mailing.end_at + LATE_AFTER_END + timedelta(minutes=1))
        assert sink.messages == []
    attempt.refresh_from_db()
    assert (attempt.status, attempt.pending_count) == ("failure", 3)
    assert attempt.response_text.startswith("Not sent: the mailing ended")


@pytest.mark.django_db
def test_the_last_slot_goes_out_a_tick_late_and_a_one_off_run_resumes_after_its_end(user, settings):
    settings.EMAIL_RESUME_AFTER = 60
    now = timezone.now()
    weekly = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=2),
        start_at=now - timedelta(days=7, minutes=2),
        end_at=now - timedelta(minutes=2),  # its second and last slot: the end is inclusive
        periodicity=Periodicity.WEEKLY,
    )
    Attempt.objects.create(mailing=weekly, slot_at=weekly.start_at, status="success")
    weekly.next_run_at = weekly.end_at
    weekly.save()
    with SmtpSink() as sink:
        settings.MAILERS = mailers_for(sink)
        sending.mailings_send_due(now=now)
        assert len(sink.messages) == 2
    assert weekly.attempts.get(slot_at=weekly.end_at).status == "success"

    once = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=2, first=2),
        start_at=now - timedelta(minutes=1),
        end_at=now - timedelta(minutes=1),
        periodicity=Periodicity.ONCE,
    )
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )
    sending.mailings_send_due(now=now)  # the server is down: the run waits to resume
    with SmtpSink() as sink:
        settings.MAILERS = mailers_for(sink)
        sending.mailings_send_due(now=now + timedelta(minutes=30))
        assert len(sink.messages) == 2
    assert once.attempts.get().status == "success"


@pytest.mark.django_db(transaction=True)
def test_a_run_still_going_when_the_next_slot_comes_stops_and_that_slot_sends_once(user, settings):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    with SmtpSink(delay=0.2) as sink:
        sender = start_sender(env=sender_environment(sink, SENDING_LEASE_SECONDS="60"))
        wait_for(
            lambda: Attempt.objects.filter(mailing=mailing, accepted_count__gte=4).exists(),
            timeout=30,
        )
        # The next slot comes while the first run still has most of its recipients pending
        # (its day passes in a moment: the schedule moves a day back).
        next_slot = timezone.now()
        Mailing.objects.filter(pk=mailing.pk).update(
            start_at=next_slot - timedelta(days=1), next_run_at=next_slot
        )
        output, _ = sender.communicate(timeout=180)
        assert sender.returncode == 0, output
        first = Attempt.objects.get(mailing=mailing)
        assert first.status == "stopped" and first.pending_count > 0
        assert first.response_text.startswith("Not sent: the next run")
        sent_first = len(sink.messages)

        settings.MAILERS = mailers_for(sink)
        run_due()  # the next slot's run, to everyone

        second = Attempt.objects.exclude(pk=first.pk).get(mailing=mailing)
        assert (second.slot_at, second.accepted_count) == (next_slot, RECIPIENTS)
        assert len(sink.messages) == sent_first + RECIPIENTS
