"""One run shared by several sender processes: its ledger worked in batches, each under a lease
of its own, by real `send_mailings` and `db_worker` processes against a loopback SMTP sink
(SQLite file or PostgreSQL, whichever the tests run on); and EMAIL_RATE_LIMIT shared by them."""

import os
import re
import signal
from collections import Counter

import pytest
from django.db.models import Q, Sum
from django_tasks_db.models import DBTaskResult

from core.models import Attempt, RunBatch, SendingTally
from core.services.sending import mailing_send_enqueue, mailing_send_start
from core.services.sending.batches import BATCH
from core.services.sending.rate import rate_block
from tests.factories import make_clients, make_mailing
from tests.sending.processes import sender_environment, start_sender, wait_for
from tests.smtp_servers import SmtpSink
from tests.tasks import start_worker

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = 3000  # six batches
CONNECTIONS = 2  # per process (sender_environment)


def sharing_environment(sink, **variables: str) -> dict[str, str]:
    """A child sender's environment, with a daily quota above the run's size."""
    return sender_environment(sink, DAILY_LETTER_QUOTA=str(10 * RECIPIENTS), **variables)


def received(server) -> Counter:
    return Counter(r for message in server.messages for r in message.recipients)


def batches_held(attempt_filter: Q) -> int:
    return RunBatch.objects.filter(attempt_filter, done=False).exclude(lease_token="").count()


def helped(output: str) -> int:
    """Letters a joining sender says it sent of the run."""
    match = re.search(r"helped with run \d+, sent (\d+)", output)
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_share_one_run_and_send_every_recipient_exactly_once(user, processes):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=RECIPIENTS))
    assert RECIPIENTS >= 4 * BATCH
    with SmtpSink(delay=0.01) as sink:
        env = sharing_environment(sink, SENDING_LEASE_SECONDS="30")
        holder = start_sender(env=env)
        # The first sender opened the run and cut its ledger into batches; the others join it.
        wait_for(lambda: batches_held(Q(attempt__mailing=mailing)) == 1, timeout=180)
        joiners = [start_sender(env=env) for _ in range(processes - 1)]
        outputs = [sender.communicate(timeout=180)[0] for sender in [holder, *joiners]]

        assert [sender.returncode for sender in [holder, *joiners]] == [0] * processes, outputs
        counts = received(sink)
    # 0 duplicates, 0 missing.
    assert counts == Counter({f"client{n}@example.com": 1 for n in range(RECIPIENTS)})
    # Every joiner sent a share; the run ended once, by its holder, with the ledger's counts.
    assert all(helped(output) > 0 for output in outputs[1:]), outputs
    endings = [line for output in outputs for line in output.splitlines() if "attempt" in line]
    assert endings == [
        f"mailing {mailing.pk} attempt {Attempt.objects.get().pk}: success, "
        f"sent {RECIPIENTS}, failed 0, pending 0, skipped 0"
    ], outputs
    attempt = Attempt.objects.get()
    assert (attempt.status, attempt.accepted_count, attempt.pending_count) == (
        "success",
        RECIPIENTS,
        0,
    )
    assert (attempt.quota_reserved, attempt.lease_expires_at) == (0, None)
    assert not RunBatch.objects.exists()  # the ended run's batches are gone
    # The processes added to the same quarter-hours of the owner at once: nothing lost.
    tally = SendingTally.objects.filter(owner=user).aggregate(a=Sum("accepted"), f=Sum("failed"))
    assert (tally["a"], tally["f"]) == (RECIPIENTS, 0)


def test_a_killed_holders_batch_is_taken_over_and_the_joiner_ends_the_run(user):
    count = 3 * BATCH
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=count))
    in_run = Q(attempt__mailing=mailing)
    with SmtpSink(delay=0.01) as sink:
        env = sharing_environment(sink, SENDING_LEASE_SECONDS="1")
        holder = start_sender(env=env)
        wait_for(lambda: batches_held(in_run) == 1, timeout=180)
        joiner = start_sender(env=env)
        # Both are sending, each its own batch: the holder dies mid-batch.
        wait_for(lambda: batches_held(in_run) == 2, timeout=180)
        wait_for(lambda: len(sink.messages) >= 100, timeout=180)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        output, _ = joiner.communicate(timeout=180)

        assert joiner.returncode == 0, output
        counts = received(sink)
    # The dead holder's batch went to the joiner once its lease ran out, and so did the run.
    attempt = Attempt.objects.get()
    assert f"attempt {attempt.pk}: success, sent {count}, failed 0" in output
    assert (attempt.status, attempt.accepted_count, attempt.pending_count) == ("success", count, 0)
    assert set(counts) == {f"client{n}@example.com" for n in range(count)}
    # At most the letter in flight on each of the killed process's connections went twice.
    assert sum(counts.values()) - count <= CONNECTIONS


def test_the_rate_limit_holds_across_two_processes(user):
    per_minute = 600  # ten letters a second, in blocks of ten
    per_second, block = per_minute / 60, rate_block(per_minute)
    count = 30
    for n in range(2):
        make_mailing(owner=user, clients=make_clients(owner=user, count=count, first=count * n))
    with SmtpSink() as sink:
        env = sender_environment(sink, EMAIL_RATE_LIMIT=str(per_minute))
        senders = [start_sender(env=env) for _ in range(2)]
        outputs = [sender.communicate(timeout=180)[0] for sender in senders]

        assert [sender.returncode for sender in senders] == [0, 0], outputs
        times = sorted(message.received_at for message in sink.messages)
    assert len(times) == 2 * count
    # The bucket holds one block and refills at the limit's pace; each sender may also hold a
    # block it took just before a window began.
    slack = block + 2 * block
    for start in times:
        in_window = sum(start <= t < start + 2.0 for t in times)
        assert in_window <= 2.0 * per_second + slack
    # Sixty letters at ten a second, the first block at once: about five seconds, not less.
    assert times[-1] - times[0] >= (2 * count - block) / per_second - 0.5
    assert Attempt.objects.filter(status="success").count() == 2


def test_send_now_gives_each_worker_a_task_and_the_run_goes_out_once(user, settings):
    settings.SENDING_WORKERS_PER_RUN = 2
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=RECIPIENTS), next_run_at=None
    )
    attempt = mailing_send_start(mailing=mailing)
    mailing_send_enqueue(attempt_id=attempt.pk)
    with SmtpSink(delay=0.01) as sink:
        env = sharing_environment(sink, SENDING_LEASE_SECONDS="30")
        workers = [start_worker("--batch", env=env) for _ in range(2)]
        outputs = [worker.communicate(timeout=180)[0] for worker in workers]

        assert [worker.returncode for worker in workers] == [0, 0], outputs
        counts = received(sink)
    assert counts == Counter({f"client{n}@example.com": 1 for n in range(RECIPIENTS)})
    attempt.refresh_from_db()
    assert (attempt.status, attempt.accepted_count) == ("success", RECIPIENTS)
    # Two tasks, one per worker asked for, each run once and successfully. Whether the second
    # joins while batches are left depends on how soon its process starts: the shares of
    # several senders are pinned by the tests above, with processes that start together.
    tasks = DBTaskResult.objects.order_by("enqueued_at")
    assert [task.status for task in tasks] == ["SUCCESSFUL"] * 2
    assert all(len(task.worker_ids) == 1 for task in tasks)
    assert sum(task.return_value for task in tasks) >= 1
