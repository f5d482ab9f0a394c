"""Sending a claimed run: the main thread streams the ledger's pending recipients to SMTP
worker threads and records their results; only the main thread touches the database."""

import heapq
import logging
import queue
import re
import smtplib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.models import Attempt, Client, Delivery, RunBatch
from core.outcomes import said
from core.services.sending.batches import batch_claim, batches_held_by_others
from core.services.sending.claims import attempt_claim_open, deliveries_skip, lease_end
from core.services.sending.controls import attempt_stop_reason
from core.services.sending.dkim import dkim_signer
from core.services.sending.headers import LetterError
from core.services.sending.identity import sender_identity_of
from core.services.sending.letters import Letter, RenderedLetter
from core.services.sending.quota import quota_reserve
from core.services.sending.rate import rate_take
from core.services.sending.shutdown import shutdown_requested
from core.services.sending.smtp import (
    Session,
    SessionDropped,
    SessionError,
    decode,
    unintelligible,
    warn_if_unverified,
)
from core.services.sending.tally import letters_tally_add

logger = logging.getLogger(__name__)

PENDING = Delivery.Status.PENDING
# Ledger lines fetched per query while streaming a run's recipients.
_FETCH_BATCH = 1000
# Longest server reply kept in the ledger.
_REPLY_LIMIT = 1000
# Letters of the owner's daily quota a run reserves at a time.
_RESERVE_LETTERS = 250
# The enhanced status code of a reply (RFC 3463): class.subject.detail, e.g. 5.1.1.
_ENHANCED_CODE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")


class Outcome(StrEnum):
    """What became of one recipient on one try."""

    ACCEPTED = Delivery.Status.ACCEPTED
    FAILED = Delivery.Status.FAILED
    # The server refused the recipient's address for good: failed, and the client is marked
    # bounced so that later runs skip it. FAILED alone is a failure that is not the address's.
    REFUSED = "refused"
    DEFERRED = "deferred"  # a temporary refusal: pending, tried again after a back-off
    UNTRIED = "untried"  # never reached the server: pending, no try counted


@dataclass
class Work:
    delivery_id: int
    email: str
    name: str
    client_id: int | None
    tries: int = 0


@dataclass
class Result:
    work: Work
    outcome: Outcome
    reply: str
    fatal: bool = False
    recorded: threading.Event = field(default_factory=threading.Event)


class RunSender:
    """One sender of a run: claims its batches one after another, feeds the SMTP workers and
    writes the ledger.

    The run's holder (`holds_run`: it claimed the run's lease) ends the run once no batch is
    free and no other sender works one; a joiner only works batches (see `batches`).
    """

    def __init__(self, *, attempt: Attempt, holds_run: bool = True) -> None:
        self.attempt = attempt
        self.holds_run = holds_run
        # The batch this sender works now, under its own lease.
        self.batch: RunBatch | None = None
        self.workers: list[threading.Thread] = []
        mailing = attempt.mailing
        self.identity = sender_identity_of(user_id=mailing.owner_id)
        # A key that cannot be read, or a message whose placeholders are wrong, fails the run
        # here, once, with the reason.
        self.letter = Letter.of_message(
            message=mailing.message, identity=self.identity, signer=dkim_signer()
        )
        options = settings.MAILERS["default"].get("OPTIONS", {})
        self.options = options
        self.timeout = float(options.get("timeout") or 10.0)
        self.concurrency = max(1, int(settings.EMAIL_CONCURRENCY))
        self.max_tries = max(1, int(settings.EMAIL_RETRIES))
        self.retry_delay = float(settings.EMAIL_RETRY_DELAY)
        self.lease_seconds = float(settings.SENDING_LEASE_SECONDS)
        self.work: queue.Queue[Work | None] = queue.Queue()
        self.results: queue.Queue[Result] = queue.Queue()
        self.stop = threading.Event()
        self.fatal_reply = ""
        # Set when another sender took the run over: this one must not write its ending.
        self.lease_lost = False
        self.lease_renewed_at = time.monotonic()
        self.progress_interval = min(0.5, self.lease_seconds / 4)
        self.unsaved_accepted = self.unsaved_failed = self.unsaved_skipped = 0
        # Letters of the run this sender had accepted (a joiner's report).
        self.accepted_here = 0
        self.batches_worked = 0
        # Why the run was asked to stop (the owner, a pause, a manager): it ends as stopped.
        self.stop_reason = ""
        self.hold_checked_at = -float("inf")
        # The owner's daily quota: letters reserved and not yet handed out, and results
        # recorded whose reservation the database has not been given back yet.
        self.owner_id = mailing.owner_id
        self.allowance = 0
        self.unreturned = 0
        # About how many recipients are still to hand out a first time, so that a run never
        # reserves much more than it can send (what it holds, other runs cannot have).
        self.untried_left = attempt.pending_count
        self.quota_reached = False
        # Set on SIGTERM or SIGINT: the run leaves its lease for the next sender.
        self.shutting_down = False
        # Set when the server refused, hung or failed the session: the other runs of this
        # tick for the same server wait (see `runs.mailings_send_due`).
        self.server_failed = False
        # A 421 ("closing the connection") is the server's, not one recipient's: every
        # connection of the run waits until `server_pause_until`, doubling the wait on each
        # 421 in a row, and the run ends its turn after EMAIL_RETRIES of them.
        self.server_lock = threading.Lock()
        self.server_pause_until = 0.0
        self.server_421s = 0
        # EMAIL_RATE_LIMIT: letters this sender may still hand out, taken from the server's
        # bucket shared by every sender (core.services.sending.rate), and until when
        # (time.monotonic) the bucket is empty.
        self.rate_limit = max(0, int(getattr(settings, "EMAIL_RATE_LIMIT", 0) or 0))
        self.rate_server = f"{options.get('host', '')}:{options.get('port', '')}"
        self.rate_tokens = 0
        self.rate_wait_until = 0.0
        # Quota reserved a few hundred letters at a time: its transaction (a row lock and two
        # counts) per 8 letters cost a third of a run's time. A sender holds at most this many
        # letters of its owner's day unsent, and gives back what it did not use after each batch.
        self.reserve_batch = max(8 * self.concurrency, _RESERVE_LETTERS)

    # The main thread.

    def send(self) -> str:
        """Send batch after batch until none is left to work now; return the reason the run
        stopped, if any. The holder then waits for the other senders' batches to end."""
        warn_if_unverified(self.options)
        try:
            while (batch := self._next_batch()) is not None:
                self._send_batch(batch)
        finally:
            self.stop.set()
            for _worker in self.workers:
                self.work.put(None)
            self._finish_workers(self.workers)
            self._batch_release(done=False)
        if self.holds_run and not (self.lease_lost or self.shutting_down):
            self._wait_for_others()
        return self.fatal_reply

    def _next_batch(self) -> RunBatch | None:
        """Claim the run's next free batch; None when this sender is done with the run.

        With no batch free, the holder waits while other senders work theirs (one of them may
        die, and its batch come free), then ends the run; a joiner leaves, unless the holder is
        gone: then it takes the run over, to end it.
        """
        while not self.stop.is_set():
            self._check_hold()
            if shutdown_requested() and not self.shutting_down:
                self.shutting_down = True
                self.stop.set()
            if self.stop.is_set():
                break
            now = timezone.now()
            batch = batch_claim(attempt_id=self.attempt.pk, now=now, lease_until=lease_end(now))
            if batch is not None:
                self.batch = batch
                self.untried_left = batch.size
                self.batches_worked += 1
                return batch
            if not self.holds_run:
                claimed = attempt_claim_open(now=now, attempt_id=self.attempt.pk)
                if claimed is None:
                    return None
                self.attempt.lease_token = claimed.lease_token
                self.holds_run = True
                continue
            if not batches_held_by_others(attempt_id=self.attempt.pk, now=now):
                return None
            self._idle()
        return None

    def _wait_for_others(self) -> None:
        """The holder, done with its own batches: wait until no other sender works one of the
        run's (they see a stop, a pause or the quota too), renewing the run's lease."""
        while batches_held_by_others(attempt_id=self.attempt.pk, now=timezone.now()):
            self._idle()
            if self.lease_lost:
                return

    def _idle(self) -> None:
        """A progress interval with nothing to send: keep the leases and see a stop request."""
        time.sleep(self.progress_interval)
        self._renew_lease()
        if not self.stop.is_set():
            self._check_hold()

    def _send_batch(self, batch: RunBatch) -> None:
        """Send to the pending recipients of the claimed batch, retries included, and mark it
        done; a batch left by a stop is given back in `send`."""
        pending = self._pending(batch)
        first = next(pending, None)
        if first is None:
            self._batch_release(done=True)
            return
        pending = _chain(first, pending)
        if not self.workers:
            self.workers = [
                threading.Thread(target=self._worker, name=f"smtp-{n}", daemon=True)
                for n in range(min(self.concurrency, max(1, self.attempt.pending_count or 1)))
            ]
            for worker in self.workers:
                worker.start()
        retries: list[tuple[float, int, Work]] = []
        outstanding = 0
        capacity = 2 * len(self.workers)
        exhausted = False
        while True:
            self._check_hold()
            if shutdown_requested() and not self.shutting_down:
                self.shutting_down = True
                self.stop.set()
            while not self.stop.is_set() and outstanding < capacity:
                retry_due = bool(retries) and retries[0][0] <= time.monotonic()
                if exhausted and not retry_due:
                    break
                # Every letter handed out, a retry too, holds one letter of the quota.
                if self.allowance == 0 and not self._reserve(
                    outstanding=outstanding, retrying=len(retries)
                ):
                    break
                if self.rate_limit and self.rate_tokens == 0 and not self._take_rate():
                    break
                if retry_due:
                    work = heapq.heappop(retries)[2]
                elif (work := next(pending, None)) is None:
                    exhausted = True
                    break
                else:
                    self.untried_left -= 1
                self.work.put(work)
                outstanding += 1
                self.allowance -= 1
                if self.rate_limit:
                    self.rate_tokens -= 1
            if outstanding == 0 and (self.stop.is_set() or (exhausted and not retries)):
                break
            # Wakes at least every progress interval, to see a stop request in time.
            wait = min(self.lease_seconds / 4, self.progress_interval)
            if retries:
                wait = min(wait, max(0.001, retries[0][0] - time.monotonic()))
            if self.rate_limit and self.rate_tokens == 0:
                wait = min(wait, max(0.001, self.rate_wait_until - time.monotonic()))
            try:
                results = [self.results.get(timeout=wait)]
            except queue.Empty:
                self._renew_lease()
                continue
            while True:
                try:
                    results.append(self.results.get_nowait())
                except queue.Empty:
                    break
            outstanding -= len(results)
            self._record(results)
            for result in results:
                if result.outcome == Outcome.DEFERRED and result.work.tries < self.max_tries:
                    due = time.monotonic() + self.retry_delay * 2 ** (result.work.tries - 1)
                    heapq.heappush(retries, (due, result.work.delivery_id, result.work))
        if not self.stop.is_set():
            self._batch_release(done=True)

    def _take_rate(self) -> bool:
        """Take the next block of the mail server's EMAIL_RATE_LIMIT; False while it is empty."""
        if time.monotonic() < self.rate_wait_until:
            return False
        granted, wait = rate_take(
            server=self.rate_server, per_minute=self.rate_limit, now=timezone.now()
        )
        self.rate_tokens += granted
        self.rate_wait_until = time.monotonic() + wait
        return granted > 0

    def _batch_release(self, *, done: bool) -> None:
        """Give the batch back (done, or for another sender to finish) with this sender's
        counts and unused quota, in one transaction; nothing if it holds none."""
        batch, self.batch = self.batch, None
        if batch is None:
            return
        with transaction.atomic():
            self._write_progress(lease_until=None)
            RunBatch.objects.filter(pk=batch.pk, lease_token=batch.lease_token).update(
                lease_token="", lease_expires_at=timezone.now(), done=done
            )

    def _finish_workers(self, workers: list[threading.Thread]) -> None:
        """Record the letters still in flight as they come back, until every worker is done.

        A worker sends a letter only once its previous one is recorded, so results are
        recorded while waiting, not after. Each letter in flight ends within about one
        EMAIL_TIMEOUT once the run stops (a server that hangs times out and ends the
        session); a worker still busy after that is left behind (its thread dies with the
        process), its letter pending: at most one letter per connection sent twice.
        """
        deadline = time.monotonic() + (
            self.timeout + 2 if self.shutting_down else self.timeout * 4 + 5
        )
        while any(worker.is_alive() for worker in workers) or not self.results.empty():
            left = deadline - time.monotonic()
            if left <= 0:
                logger.warning("Run %s: a connection did not finish in time", self.attempt.pk)
                break
            batch = []
            try:
                batch.append(self.results.get(timeout=min(0.05, left)))
            except queue.Empty:
                continue
            while True:
                try:
                    batch.append(self.results.get_nowait())
                except queue.Empty:
                    break
            self._record(batch)

    def _pending(self, batch: RunBatch) -> Iterator[Work]:
        """The batch's pending recipients, streamed in id order a fetch at a time."""
        last_id = batch.first_id - 1
        while True:
            rows = list(
                Delivery.objects.filter(
                    attempt_id=self.attempt.pk,
                    status=Delivery.Status.PENDING,
                    id__gt=last_id,
                    id__lte=batch.last_id,
                )
                .order_by("id")
                .values_list(
                    "id",
                    "email",
                    "client__full_name",
                    "client_id",
                    "client__unsubscribed_at",
                    "client__bounced_at",
                )[:_FETCH_BATCH]
            )
            if not rows:
                return
            last_id = rows[-1][0]
            # Clients who unsubscribed or bounced since the run opened (it may have been
            # resumed or taken over much later) are skipped, not sent to.
            skipped = [row[0] for row in rows if row[4] is not None or row[5] is not None]
            if skipped:
                deliveries_skip(ids=skipped)
                self.unsaved_skipped += len(skipped)
            for delivery_id, email, name, client_id, unsubscribed, bounced in rows:
                if unsubscribed is None and bounced is None:
                    yield Work(
                        delivery_id=delivery_id, email=email, name=name or "", client_id=client_id
                    )
            del rows  # before the next batch is fetched: one batch in memory at a time

    def _record(self, batch: list[Result]) -> None:
        """Write a batch of results in one transaction, renew the lease, then release workers."""
        now = timezone.now()
        tried = []
        bounced = []
        accepted = failed = 0
        for result in batch:
            if result.fatal and not self.fatal_reply:
                self.fatal_reply = result.reply
            if result.outcome == Outcome.UNTRIED:
                continue
            status = result.outcome
            if status == Outcome.DEFERRED:
                status = Delivery.Status.PENDING
            elif status == Outcome.REFUSED:
                status = Delivery.Status.FAILED
                reply = result.reply[:_REPLY_LIMIT]
                bounced.append((now, reply, now, result.work.delivery_id, result.work.email))
            accepted += status == Delivery.Status.ACCEPTED
            failed += status == Delivery.Status.FAILED
            # When the recipient's outcome became final; the statistics count days by it.
            sent_at = None if status == Delivery.Status.PENDING else now
            tried.append((status, result.reply[:_REPLY_LIMIT], sent_at, result.work.delivery_id))
        self.unsaved_accepted += accepted
        self.unsaved_failed += failed
        self.accepted_here += accepted
        # Each result, whatever it was, gives back the letter its hand-out reserved; an
        # accepted one is in the ledger from this transaction on.
        self.unreturned += len(batch)
        # The run's counters and lease are written at most a few times a second; the ledger
        # lines always. A lease is lost only after `SENDING_LEASE_SECONDS` without renewal,
        # so the first write after a stall that long checks it.
        progress_due = time.monotonic() - self.lease_renewed_at >= self.progress_interval
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # One statement per outcome, so its row count is what the tally adds: only the
                # lines this update turned from pending (not those another sender wrote first,
                # nor those deleted meanwhile with their mailing).
                changed = {}
                for status in (Delivery.Status.ACCEPTED, Delivery.Status.FAILED, PENDING):
                    rows = [row for row in tried if row[0] == status]
                    if rows:
                        cursor.executemany(
                            f"UPDATE {Delivery._meta.db_table} "  # noqa: S608 - model table name
                            "SET status = %s, reply = %s, sent_at = %s, tries = tries + 1 "
                            f"WHERE id = %s AND status = '{PENDING}'",
                            rows,
                        )
                        changed[status] = cursor.rowcount
                letters_tally_add(
                    cursor,
                    owner_id=self.owner_id,
                    moment=now,
                    accepted=changed.get(Delivery.Status.ACCEPTED, 0),
                    failed=changed.get(Delivery.Status.FAILED, 0),
                )
                if bounced:
                    # The client is marked only while it still has the address refused.
                    cursor.executemany(
                        f"UPDATE {Client._meta.db_table} "  # noqa: S608 - model table names
                        "SET bounced_at = %s, bounce_reply = %s, updated_at = %s "
                        f"WHERE id = (SELECT client_id FROM {Delivery._meta.db_table} "
                        "WHERE id = %s) AND email = %s AND bounced_at IS NULL",
                        bounced,
                    )
                if progress_due:
                    self._write_progress(lease_until=lease_end(now))
        finally:
            for result in batch:
                result.recorded.set()

    def _write_progress(self, *, lease_until: datetime | None) -> None:
        """Add this sender's unwritten counts to the run, give back the quota of the results it
        recorded, and renew its leases until `lease_until`; with None, give back its unused
        quota too and renew nothing (it is letting its batch go). Inside a transaction.

        The holder writes while it holds the run's lease, a joiner while the run is open;
        either finding neither stops (another sender took the run over, or it ended). The
        counts are the live figures of the run page; its ending counts the ledger itself.
        """
        accepted, failed = self.unsaved_accepted, self.unsaved_failed
        skipped, returned = self.unsaved_skipped, self.unreturned
        if lease_until is None:
            returned += self.allowance
            self.allowance = 0
            if not (accepted or failed or skipped or returned):
                return
        self.unsaved_accepted = self.unsaved_failed = self.unsaved_skipped = 0
        self.unreturned = 0
        renews_run = self.holds_run and lease_until is not None
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Attempt._meta.db_table} "  # noqa: S608 - model table name
                "SET accepted_count = accepted_count + %s, "
                "failed_count = failed_count + %s, "
                "skipped_count = skipped_count + %s, "
                "pending_count = pending_count - %s, "
                # Never below zero, whatever ended the run meanwhile and cleared it.
                "quota_reserved = CASE WHEN quota_reserved > %s THEN quota_reserved - %s "
                "ELSE 0 END"
                + (", lease_expires_at = %s" if renews_run else "")
                + " WHERE id = %s AND status = %s"
                + (" AND lease_token = %s" if self.holds_run else ""),
                [
                    accepted,
                    failed,
                    skipped,
                    accepted + failed + skipped,
                    returned,
                    returned,
                    *([lease_until] if renews_run else []),
                    self.attempt.pk,
                    Attempt.Status.RUNNING,
                    *([self.attempt.lease_token] if self.holds_run else []),
                ],
            )
            if cursor.rowcount == 0:
                # Another sender took the run over (this one stalled past its lease), or
                # it ended.
                self._lose_lease()
            if lease_until is not None and self.batch is not None:
                renewed = RunBatch.objects.filter(
                    pk=self.batch.pk, lease_token=self.batch.lease_token
                ).update(lease_expires_at=lease_until)
                if not renewed:  # the batch was taken over, or the run's turn is over
                    self._lose_lease()
        if lease_until is not None:
            self.lease_renewed_at = time.monotonic()

    def _check_hold(self) -> None:
        """Stop the run, at most every progress interval, if it was asked to: a stop request,
        a pause, a manager's disable or block (see core.services.sending.controls)."""
        if time.monotonic() - self.hold_checked_at < self.progress_interval:
            return
        self.hold_checked_at = time.monotonic()
        reason = attempt_stop_reason(attempt_id=self.attempt.pk, now=timezone.now())
        if reason:
            self.stop_reason = reason
            self.stop.set()

    def _reserve(self, *, outstanding: int, retrying: int) -> bool:
        """Reserve the next letters of the owner's daily quota; False when none is left.

        With no letter of this run still out, none will come back either: the run has
        reached the quota and ends its turn, its recipients left pending until midnight.
        """
        granted = quota_reserve(
            attempt=self.attempt,
            owner_id=self.owner_id,
            want=max(1, min(self.reserve_batch, self.untried_left + retrying)),
            returned=self.unreturned,
            now=timezone.now(),
        )
        if granted is None:
            self._lose_lease()
            return False
        self.unreturned = 0
        self.allowance += granted
        if not granted and outstanding == 0:
            self.quota_reached = True
            self.stop.set()
        return granted > 0

    def _renew_lease(self) -> None:
        """Renew the leases this sender holds (its batch, the run if it holds it), at most four
        times a lease, with whatever counts it has not written yet."""
        if time.monotonic() - self.lease_renewed_at < self.lease_seconds / 4:
            return
        with transaction.atomic():
            self._write_progress(lease_until=lease_end(timezone.now()))

    def _lose_lease(self) -> None:
        self.stop.set()
        self.lease_lost = True
        self.fatal_reply = self.fatal_reply or said("run.taken_over")

    # The worker threads: SMTP only, never the database.

    def _worker(self) -> None:
        session = Session(
            options=self.options, timeout=self.timeout, local_hostname=self.identity.ehlo_name
        )
        previous: Result | None = None
        try:
            while True:
                work = self.work.get()
                if work is None:
                    return
                if self.stop.is_set():
                    self.results.put(Result(work=work, outcome=Outcome.UNTRIED, reply=""))
                    continue
                try:
                    outcome, reply = self._deliver(session, work, previous)
                    fatal = False
                except SessionError as error:
                    self.server_failed = True
                    self.stop.set()
                    session.close()
                    outcome, reply, fatal = Outcome.UNTRIED, error.reply, True
                except Exception as error:  # a bug must not leave the main thread waiting
                    logger.exception("SMTP worker failed")
                    self.stop.set()
                    session.close()
                    outcome, reply, fatal = Outcome.UNTRIED, str(error), True
                if outcome != Outcome.UNTRIED:
                    work.tries += 1
                previous = Result(work=work, outcome=outcome, reply=reply, fatal=fatal)
                self.results.put(previous)
        finally:
            session.close()

    def _deliver(self, session: Session, work: Work, previous: Result | None) -> tuple[str, str]:
        """Send one recipient their message; return (outcome, reply) or raise SessionError."""
        if session.smtp is None:
            self._wait_for_server()
            if self.stop.is_set():
                return Outcome.UNTRIED, ""
        fresh = session.open()
        try:
            letter, replies = self._mail(session, work, fresh=fresh)
        except LetterError as error:  # this recipient's letter only: the run goes on
            return Outcome.FAILED, str(error)
        if len(replies) > 1:
            return self._deliver_pipelined(session, letter, replies, previous)
        code, reply = replies[0]
        if code != 250:
            return self._refused(session, code, reply, stage="MAIL")
        code, reply = session.command(session.send_command, "rcpt", f"TO:<{letter.recipient}>")
        if code not in (250, 251):
            return self._refused(session, code, reply, stage="RCPT")
        # The previous message of this connection must be in the ledger before this one goes:
        # a kill now can cost at most one message sent twice.
        if previous is not None:
            previous.recorded.wait()
        if self.stop.is_set():
            session.command(session.smtp.rset)
            return Outcome.UNTRIED, ""
        try:
            code, reply = session.command(session.smtp.data, letter.content)
        except smtplib.SMTPDataError as error:  # DATA itself refused, before any content
            return self._refused(session, error.smtp_code, decode(error.smtp_error), stage="DATA")
        if code == 250:
            self.server_421s = 0
            return Outcome.ACCEPTED, f"{code} {reply}"
        return self._refused(session, code, reply, stage="MESSAGE")

    def _deliver_pipelined(
        self,
        session: Session,
        letter: RenderedLetter,
        replies: list[tuple[int, str]],
        previous: Result | None,
    ) -> tuple[str, str]:
        """The rest of `_deliver` once MAIL, RCPT and DATA went in one write: their replies
        (up to a 421) are read, and the content still goes only after the previous message of
        this connection is in the ledger."""
        replies = replies + [(421, "")] * (3 - len(replies))  # nothing after a 421
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            session.abandon()  # DATA opened without a sender or recipient: send no content
        if mail_code != 250:
            return self._refused(session, mail_code, mail_reply, stage="MAIL")
        if rcpt_code not in (250, 251):
            return self._refused(session, rcpt_code, rcpt_reply, stage="RCPT")
        if data_code != 354:
            return self._refused(session, data_code, data_reply, stage="DATA")
        if previous is not None:
            previous.recorded.wait()
        if self.stop.is_set():
            session.abandon()
            return Outcome.UNTRIED, ""
        code, reply = session.command(session.send_content, letter.content)
        if code == 250:
            self.server_421s = 0
            return Outcome.ACCEPTED, f"{code} {reply}"
        return self._refused(session, code, reply, stage="MESSAGE")

    def _wait_for_server(self) -> None:
        """Before a new connection: wait out the back-off a 421 asked for (or a stop)."""
        with self.server_lock:
            left = self.server_pause_until - time.monotonic()
        if left > 0:
            self.stop.wait(left)

    def _server_closing(self, reply: str) -> None:
        """The server answered 421 and closed the connection: back off for the whole server,
        not for this recipient; after EMAIL_RETRIES such replies in a row, stop the run (its
        recipients stay pending and it resumes later, as when the server is down)."""
        with self.server_lock:
            self.server_421s += 1
            if self.server_421s > self.max_tries:
                raise SessionError(reply)
            pause = self.retry_delay * 2 ** (self.server_421s - 1)
            self.server_pause_until = max(self.server_pause_until, time.monotonic() + pause)

    def _mail(
        self, session: Session, work: Work, *, fresh: bool
    ) -> tuple[RenderedLetter, list[tuple[int, str]]]:
        """Render the letter for this connection's server and start its transaction: MAIL
        and its reply, or with PIPELINING, MAIL, RCPT and DATA in one write and their
        replies."""
        letter = self._render(session, work)
        mail_from = session.mail_from(self.identity.envelope_sender, smtputf8=letter.smtputf8)
        try:
            if session.pipelining:
                commands = [("MAIL", mail_from), ("RCPT", f"TO:<{letter.recipient}>"), ("DATA", "")]
                replies = session.command(session.send_commands, commands)
            else:
                replies = [session.command(session.send_command, "mail", mail_from)]
        except SessionDropped:
            if fresh:
                raise
            # An idle connection the server dropped: one new connection, then the same message.
            session.open()
            return self._mail(session, work, fresh=True)
        return letter, replies

    def _render(self, session: Session, work: Work) -> RenderedLetter:
        """The recipient's letter as this server can take it; LetterError if it cannot."""
        try:
            values = self.letter.recipient_values(
                client_id=work.client_id, email=work.email, name=work.name
            )
            return self.letter.render(
                email=work.email,
                name=work.name,
                values=values,
                delivery_id=work.delivery_id,
                eight_bit=session.eight_bit,
                smtputf8=session.smtputf8,
            )
        except LetterError:
            raise
        except (UnicodeError, ValueError) as error:  # something in this recipient's data
            logger.exception("The letter of delivery %s cannot be built", work.delivery_id)
            raise LetterError(said("letter.unbuildable", error=error)) from error

    def _refused(self, session: Session, code: int, reply: str, *, stage: str) -> tuple[str, str]:
        text = f"{code} {reply}"
        if code == 421 or not 400 <= code < 600:
            session.close()
            if code == 421:
                self._server_closing(text)
                return Outcome.DEFERRED, text
            raise SessionError(unintelligible(reply))
        if stage == "MAIL" and code >= 500:
            raise SessionError(said("smtp.refused_sender", reply=text))
        if stage != "MESSAGE" and session.smtp is not None:
            session.command(session.smtp.rset)
        if code < 500:
            return Outcome.DEFERRED, text
        return (Outcome.REFUSED if _about_the_address(reply) else Outcome.FAILED), text


def _about_the_address(reply: str) -> bool:
    """Whether a permanent refusal of one recipient (RCPT, or DATA for their letter) is about
    their address, which then bounced.

    A reply without an enhanced status code is taken at its word. One with a code says what
    it is about (RFC 3463): X.1 the address and X.2 the mailbox are the recipient's, except
    X.2.3 (the message is too long). X.7 policy (relay denied, a sender not allowed), X.6
    content, X.3 the receiving system and the rest are not the address's fault: they refuse
    every recipient alike, and suppressing on them would empty a list in one run.
    """
    match = _ENHANCED_CODE.match(reply)
    if match is None:
        return True
    subject, detail = match.group(2), match.group(3)
    return subject == "1" or (subject == "2" and detail != "3")


def _chain(first, rest):
    """`first`, then everything in `rest`."""
    yield first
    yield from rest
