"""Several senders at once, a sender killed mid-run, and a mailing due when it is saved:
real `send_mailings` and `db_worker` processes sharing the test database (SQLite file or
PostgreSQL)."""

import os
import signal
import threading
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.models import Attempt, Delivery
from core.services.scheduling import mailing_schedule
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.sending.processes import sender_environment, start_sender, wait_for
from tests.smtp_servers import SmtpSink
from tests.tasks import start_worker

pytestmark = pytest.mark.django_db(transaction=True)


def received(server) -> Counter:
    return Counter(r for message in server.messages for r in message.recipients)


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_senders_send_every_recipient_exactly_once(user, processes):
    # Runs long enough (30 recipients at 30 ms over 2 connections) for the senders to overlap.
    mailings = [
        make_mailing(owner=user, clients=make_clients(owner=user, count=30, first=30 * n))
        for n in range(4)
    ]
    with SmtpSink(delay=0.03) as sink:
        env = sender_environment(sink, SENDING_LEASE_SECONDS="30")
        senders = [start_sender(env=env) for _ in range(processes)]
        outputs = [sender.communicate(timeout=180)[0] for sender in senders]

        assert [sender.returncode for sender in senders] == [0] * processes, outputs
        counts = received(sink)
    assert counts == Counter({f"client{n}@example.com": 1 for n in range(120)})
    for mailing in mailings:
        (attempt,) = Attempt.objects.filter(mailing=mailing)
        assert (attempt.status, attempt.accepted_count) == ("success", 30)
    # Every run was reported by exactly one of the senders.
    lines = [line for output in outputs for line in output.splitlines() if "attempt" in line]
    assert len(lines) == 4


def test_a_sender_killed_mid_run_is_finished_by_the_next_one(user, settings):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=30))
    # The server takes 8 letters, then holds the next ones until released: the sender is
    # killed mid-run however slowly this test notices its progress.
    release = threading.Event()
    with SmtpSink(hold=release, hold_after=8) as sink:
        settings.MAILERS = mailers_for(sink)
        env = sender_environment(sink, SENDING_LEASE_SECONDS="1")
        sender = start_sender(env=env)
        wait_for(
            lambda: Attempt.objects.filter(mailing=mailing, accepted_count__gte=8).exists(),
            timeout=30,
        )
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        release.set()

        attempt = Attempt.objects.get(mailing=mailing)
        assert attempt.status == "running"
        accepted_before = set(
            Delivery.objects.filter(attempt=attempt, status="accepted").values_list(
                "email", flat=True
            )
        )
        assert len(accepted_before) == 8
        # The lease runs out a second after the killed sender's last heartbeat.
        wait_for(lambda: timezone.now() > Attempt.objects.get().lease_expires_at, timeout=5)

        call_command("send_mailings")

        counts = received(sink)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.accepted_count, attempt.pending_count) == ("success", 30, 0)
    assert set(counts) == {f"client{n}@example.com" for n in range(30)}
    # Recipients recorded before the kill never got a second message; at most the one message
    # in flight on each of the two connections went twice.
    assert all(counts[email] == 1 for email in accepted_before)
    assert sum(counts.values()) - 30 <= 2


def test_a_mailing_due_when_saved_goes_out_from_a_worker_without_the_request_waiting(user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    release = threading.Event()
    with SmtpSink(hold=release) as sink:
        with transaction.atomic():  # as the create view: save, then schedule
            mailing_schedule(mailing=mailing, now=timezone.now())

        # The save returned with the letters left to a task; a real worker process runs it.
        worker = start_worker("--batch", env=sender_environment(sink))
        wait_for(lambda: Attempt.objects.filter(mailing=mailing).exists(), timeout=180)
        assert sink.messages == []  # the server still holds back every message
        release.set()
        output, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0, output
        assert len(sink.messages) == 2
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.slot_at) == ("success", mailing.start_at)
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_send_now_returns_at_once_and_a_worker_sends(user, user_client):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    release = threading.Event()
    with SmtpSink(hold=release) as sink:
        workers = [start_worker(env=sender_environment(sink)) for _ in range(2)]
        try:
            response = user_client.post(
                reverse("mailing-send", kwargs={"pk": mailing.pk}),
                {"confirmed": "1"},
                headers={"HX-Request": "true"},
            )

            # The answer came while the server holds back every message.
            assert response.status_code == 204 and sink.messages == []
            release.set()
            wait_for(lambda: len(sink.messages) == 2, timeout=180)
            task = DBTaskResult.objects.get()
            wait_for(lambda: task.refresh_from_db() or task.status == "SUCCESSFUL", timeout=180)
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=180)
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.slot_at, attempt.accepted_count) == ("success", None, 2)
    # Two workers were waiting; the one task went to one of them, once.
    assert len(sink.messages) == 2 and len(task.worker_ids) == 1
