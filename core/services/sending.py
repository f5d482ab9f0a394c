"""Sending mailings over SMTP: the one module of the project that talks to the mail server.

A run of a mailing is an `Attempt` with one `Delivery` ledger line per recipient, written when
the run is claimed. Whoever holds the attempt's lease (a random token and an expiry, renewed
while the run goes on) sends to its pending recipients; a run whose lease expired lost its
sender (killed, host gone) and the next `send_mailings` takes it over. Claims take database row
locks (`select_for_update(skip_locked=True)`; on SQLite every write transaction starts with
BEGIN IMMEDIATE, which serialises the claims instead).

Inside a run, the main thread owns the database: it streams the pending recipients to
`EMAIL_CONCURRENCY` worker threads, each with its own SMTP connection, and records their
results. A worker waits until the main thread has recorded its previous message before it
sends the next one's content, so a run killed at any moment leaves at most one message per
connection sent but not recorded (and sent again by the run that takes over).
"""

import heapq
import logging
import os
import queue
import secrets
import smtplib
import subprocess
import sys
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from environ import Env

from core.models import Attempt, Client, Delivery, Mailing
from core.services import schedule

logger = logging.getLogger(__name__)

# Ledger lines fetched per query while streaming a run's recipients.
_FETCH_BATCH = 1000
# Longest server reply kept in the ledger.
_REPLY_LIMIT = 1000

# Processes started by `mailing_start_detached`, so a test (or a shutdown) can wait for them.
detached_processes: list[subprocess.Popen] = []


# --- Public services -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """What one run did, for the command's one line per mailing."""

    attempt_id: int
    mailing_id: int
    status: str
    accepted: int
    failed: int
    pending: int
    server_response: str


def mailings_send_due(
    *, now: datetime | None = None, mailing_id: int | None = None, attempt_id: int | None = None
) -> list[RunReport]:
    """Finish runs whose sender vanished, then run every mailing that is due; one report each.

    `mailing_id` limits both to one mailing, `attempt_id` to one opened run. A failing run
    never stops the others.
    """
    now = now or timezone.now()
    reports = []
    seen_attempts: set[int] = set()
    while True:
        attempt = _attempt_claim_abandoned(
            now=now, mailing_id=mailing_id, attempt_id=attempt_id, exclude=seen_attempts
        )
        if attempt is None and attempt_id is None:
            attempt = _attempt_claim_due(now=now, mailing_id=mailing_id)
        if attempt is None:
            return reports
        seen_attempts.add(attempt.pk)
        reports.append(attempt_run(attempt=attempt))


def mailing_send_now(*, mailing: Mailing, now: datetime | None = None) -> RunReport:
    """Run `mailing` at once in this process, whatever its schedule ("send now", `--mailing`)."""
    attempt = mailing_send_start(mailing=mailing, now=now)
    claimed = _attempt_claim_abandoned(
        now=max(attempt.attempted_at, timezone.now()), attempt_id=attempt.pk
    )
    if claimed is None:  # another sender took it over in between: it reports it
        attempt.refresh_from_db()
        return _report(attempt)
    return attempt_run(attempt=claimed)


def mailing_send_start(*, mailing: Mailing, now: datetime | None = None) -> Attempt:
    """Open an unscheduled run of `mailing` with its ledger, ready for any sender to take.

    The run is created with an expired lease: the detached sender started after it, or
    else the next `send_mailings`, claims it and sends. Returns at once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        attempt = _attempt_open(mailing=mailing, now=now, slot_at=None)
        # Unclaimed: no token, lease already over.
        attempt.lease_expires_at = now
        attempt.save(update_fields=["lease_expires_at"])
        if mailing.status == Mailing.Status.CREATED:
            Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.CREATED).update(
                status=Mailing.Status.RUNNING
            )
    return attempt


def mailing_start_detached(*, mailing_id: int | None = None, attempt_id: int | None = None):
    """Start `send_mailings` in a detached process for a due mailing or an opened attempt.

    Call it from `transaction.on_commit` so the process sees what the request wrote. Nothing
    starts when `SENDING_START_DETACHED` is off (tests switch it on when they wait for it).
    """
    if not settings.SENDING_START_DETACHED:
        return None
    arguments = (
        ["--attempt", str(attempt_id)] if attempt_id else ["--mailing", str(mailing_id), "--if-due"]
    )
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "send_mailings", *arguments]
    # Reap the senders that ended, so a long-running web server keeps no zombies.
    detached_processes[:] = [process for process in detached_processes if process.poll() is None]
    try:
        settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(settings.LOG_DIR / "send_mailings.log", "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=os.environ | child_database_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the web server's Ctrl-C and reloads
            )
    except OSError:
        # The run is in the database already: the next scheduler tick sends it.
        logger.exception("Cannot start a detached sender: %s", command)
        return None
    detached_processes.append(process)
    return process


def child_database_environment() -> dict[str, str]:
    """The environment that points a child process at the database this process uses.

    Usually DATABASE_URL already does; under the test runner the database is another one.
    """
    database = connection.settings_dict
    current_url = os.environ.get("DATABASE_URL")
    if current_url and str(Env.db_url_config(current_url)["NAME"]) == str(database["NAME"]):
        return {"DATABASE_URL": current_url}
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        credentials = quote(database["USER"] or "", safe="")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"], safe="")
        host = database["HOST"] or "localhost"
        port = f":{database['PORT']}" if database["PORT"] else ""
        url = f"postgres://{credentials}@{host}{port}/{quote(database['NAME'], safe='')}"
    return {"DATABASE_URL": url}


def attempt_run(*, attempt: Attempt) -> RunReport:
    """Send to the pending recipients of a claimed run and close it; never raises for SMTP."""
    try:
        fatal_reply = _Run(attempt=attempt).send()
    except Exception as error:  # a bug or a database failure: still close the run
        logger.exception("Run %s of mailing %s failed", attempt.pk, attempt.mailing_id)
        fatal_reply = _("The sender failed: %(error)s") % {"error": error}
    return _attempt_finish(attempt=attempt, fatal_reply=fatal_reply)


# --- Claiming runs ---------------------------------------------------------------------------


def _lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.SENDING_LEASE_SECONDS)


def _attempt_claim_abandoned(
    *,
    now: datetime,
    mailing_id: int | None = None,
    attempt_id: int | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> Attempt | None:
    """Take over a running attempt whose lease expired (or was never taken); None if none."""
    with transaction.atomic():
        candidates = Attempt.objects.select_for_update(skip_locked=True).filter(
            status=Attempt.Status.RUNNING, lease_expires_at__lte=now
        )
        if mailing_id is not None:
            candidates = candidates.filter(mailing_id=mailing_id)
        if attempt_id is not None:
            candidates = candidates.filter(pk=attempt_id)
        attempt = candidates.exclude(pk__in=exclude).order_by("lease_expires_at").first()
        if attempt is None:
            return None
        attempt.lease_token = secrets.token_hex(16)
        attempt.lease_expires_at = _lease_end(timezone.now())
        attempt.save(update_fields=["lease_token", "lease_expires_at"])
    return attempt


def _attempt_claim_due(*, now: datetime, mailing_id: int | None = None) -> Attempt | None:
    """Open and claim the run of the next due mailing, and move its schedule on."""
    tz = ZoneInfo(settings.TIME_ZONE)
    while True:
        with transaction.atomic():
            due = Mailing.objects.select_for_update(skip_locked=True).filter(next_run_at__lte=now)
            if mailing_id is not None:
                due = due.filter(pk=mailing_id)
            mailing = due.order_by("next_run_at").first()
            if mailing is None:
                return None
            slot = _slot_due(mailing=mailing, now=now, tz=tz)
            mailing.next_run_at = schedule.next_slot_after(
                first=mailing.start_at,
                periodicity=mailing.periodicity,
                after=now,
                end=mailing.end_at,
                tz=tz,
            )
            attempt = None
            if (
                slot is not None
                and not Attempt.objects.filter(mailing=mailing, slot_at=slot).exists()
            ):
                attempt = _attempt_open(mailing=mailing, now=now, slot_at=slot)
                attempt.lease_token = secrets.token_hex(16)
                attempt.lease_expires_at = _lease_end(timezone.now())
                attempt.save(update_fields=["lease_token", "lease_expires_at"])
                mailing.status = Mailing.Status.RUNNING
            if mailing.next_run_at is None and attempt is None:
                mailing.status = Mailing.Status.FINISHED
            mailing.save(update_fields=["next_run_at", "status", "updated_at"])
        if attempt is not None:
            return attempt
        # Nothing to send for that one (window over, slot served): look at the next.


def _slot_due(*, mailing: Mailing, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The latest slot at or before `now` inside the mailing's window; missed ones collapse."""
    index = schedule.slot_index_at_or_before(
        first=mailing.start_at, periodicity=mailing.periodicity, moment=now, tz=tz
    )
    if index is None:
        return None
    slot = schedule.slot_at(
        first=mailing.start_at, periodicity=mailing.periodicity, index=index, tz=tz
    )
    return slot if slot < mailing.end_at else None


def _attempt_open(*, mailing: Mailing, now: datetime, slot_at: datetime | None) -> Attempt:
    """Create a run and its ledger: one pending line per client of the mailing's owner."""
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=now, slot_at=slot_at, status=Attempt.Status.RUNNING
    )
    # One INSERT ... SELECT: no recipient passes through Python, whatever their number.
    delivery, client = Delivery._meta, Client._meta
    through = Mailing.clients.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {delivery.db_table}
                (attempt_id, mailing_id, owner_id, client_id, email, status, reply, tries)
            SELECT %s, %s, %s, c.id, c.email, %s, '', 0
            FROM {client.db_table} c
            JOIN {through.db_table} mc ON mc.client_id = c.id
            WHERE mc.mailing_id = %s AND c.owner_id = %s
            """,  # noqa: S608 - table names come from the models, values are parameters
            [
                attempt.pk,
                mailing.pk,
                mailing.owner_id,
                Delivery.Status.PENDING,
                mailing.pk,
                mailing.owner_id,
            ],
        )
        attempt.pending_count = cursor.rowcount
    attempt.save(update_fields=["pending_count"])
    return attempt


def _attempt_finish(*, attempt: Attempt, fatal_reply: str) -> RunReport:
    """Close the run with its counts; success only when every recipient was accepted."""
    with transaction.atomic():
        counts = dict(
            Delivery.objects.filter(attempt=attempt)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        accepted = counts.get(Delivery.Status.ACCEPTED, 0)
        failed = counts.get(Delivery.Status.FAILED, 0)
        pending = counts.get(Delivery.Status.PENDING, 0)
        total = accepted + failed + pending
        success = total > 0 and accepted == total and not fatal_reply
        response = fatal_reply or _summary(
            attempt=attempt, accepted=accepted, failed=failed, pending=pending
        )
        held = Attempt.objects.filter(
            pk=attempt.pk, lease_token=attempt.lease_token, status=Attempt.Status.RUNNING
        )
        resume_at = _resume_at(attempt=attempt, pending=pending, now=timezone.now())
        if resume_at is not None:
            # Left open, with no holder: the first sender after `resume_at` takes it over
            # like an abandoned run and sends to the pending recipients only.
            held.update(
                server_response=_("%(reply)s Pending recipients are tried again at %(time)s.")
                % {"reply": response, "time": timezone.localtime(resume_at).strftime("%H:%M")},
                lease_token="",
                lease_expires_at=resume_at,
                resumes=F("resumes") + 1,
                accepted_count=accepted,
                failed_count=failed,
                pending_count=pending,
            )
            attempt.refresh_from_db()
            return _report(attempt)
        updated = held.update(
            status=Attempt.Status.SUCCESS if success else Attempt.Status.FAILURE,
            server_response=response,
            finished_at=timezone.now(),
            lease_expires_at=None,
            accepted_count=accepted,
            failed_count=failed,
            pending_count=pending,
        )
        if updated:
            # The last run of a mailing without slots left finishes it.
            Mailing.objects.filter(
                pk=attempt.mailing_id, next_run_at__isnull=True, status=Mailing.Status.RUNNING
            ).exclude(attempts__status=Attempt.Status.RUNNING).update(
                status=Mailing.Status.FINISHED
            )
    attempt.refresh_from_db()
    return _report(attempt)


def _resume_at(*, attempt: Attempt, pending: int, now: datetime) -> datetime | None:
    """When a run that left recipients pending is resumed for them; None when it closes now.

    Back-off doubles from EMAIL_RESUME_AFTER, at most EMAIL_RESUMES times, and never at or past
    the mailing's next run, which sends to every recipient anyway.
    """
    if pending == 0 or attempt.resumes >= settings.EMAIL_RESUMES:
        return None
    resume_at = now + timedelta(seconds=settings.EMAIL_RESUME_AFTER * 2**attempt.resumes)
    next_run_at = (
        Mailing.objects.filter(pk=attempt.mailing_id).values_list("next_run_at", flat=True).first()
    )
    if next_run_at is not None and resume_at >= next_run_at:
        return None
    return resume_at


def _summary(*, attempt: Attempt, accepted: int, failed: int, pending: int) -> str:
    if accepted + failed + pending == 0:
        return _("The mailing has no clients to send to.")
    last_reply = (
        Delivery.objects.filter(attempt=attempt)
        .exclude(reply="")
        .order_by("-status", "-sent_at")  # a failed or pending reply explains a failure best
        .values_list("reply", flat=True)
        .first()
    )
    if failed == 0 and pending == 0:
        return last_reply or ""
    parts = []
    if failed:
        parts.append(ngettext("%d recipient refused", "%d recipients refused", failed) % failed)
    if pending:
        parts.append(
            ngettext("%d recipient still pending", "%d recipients still pending", pending) % pending
        )
    failure_reply = (
        Delivery.objects.filter(attempt=attempt)
        .exclude(status=Delivery.Status.ACCEPTED)
        .exclude(reply="")
        .values_list("reply", flat=True)
        .first()
    )
    text = ", ".join(parts)
    return f"{text}: {failure_reply}" if failure_reply else text


def _report(attempt: Attempt) -> RunReport:
    return RunReport(
        attempt_id=attempt.pk,
        mailing_id=attempt.mailing_id,
        status=attempt.status,
        accepted=attempt.accepted_count,
        failed=attempt.failed_count,
        pending=attempt.pending_count,
        server_response=attempt.server_response,
    )


# --- The message -----------------------------------------------------------------------------


class _Letter:
    """The message of a run, built once: each recipient only adds To, Date and Message-ID.

    Building a full MIME message per recipient costs more than sending it; the body and
    the common headers do not change between recipients, so they are rendered once.
    """

    def __init__(self, *, subject: str, body: str) -> None:
        message = EmailMessage(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=["x@invalid"]
        )
        mime = message.message(policy=SMTP_POLICY)
        for name in ("To", "Date", "Message-ID"):
            del mime[name]
        self.common = mime.as_bytes()
        self.eight_bit = not body.isascii()
        self.common_7bit: bytes | None = None
        if self.eight_bit:
            # For a server without 8BITMIME; set_content keeps Subject, From and MIME-Version.
            mime.set_content(body, charset="utf-8", cte="quoted-printable")
            self.common_7bit = mime.as_bytes()
        self.sender = _envelope_address(parseaddr(settings.DEFAULT_FROM_EMAIL)[1]) or ""
        self.domain = DNS_NAME.get_fqdn()

    def render(self, *, delivery_id: int, email: str, name: str, eight_bit: bool) -> bytes:
        headers = (
            f"To: {_to_header(name, email)}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Message-ID: {make_msgid(idstring=f'd{delivery_id}', domain=self.domain)}\r\n"
        ).encode("ascii")
        common = self.common if eight_bit or not self.eight_bit else self.common_7bit
        return headers + common


def _to_header(name: str, email: str) -> str:
    # Splitting on whitespace also drops CR and LF: a name can never inject a header.
    name = " ".join((name or "").split())
    if not name:
        return email
    if name.isascii():
        return formataddr((name, email))
    return f"{_encoded_words(name)} <{email}>"


def _encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded-words for a display name, folded between words.

    email.header does the same several times slower; this runs once per recipient.
    """
    words, chunk = [], b""
    for character in text:
        encoded = character.encode()
        # 45 bytes make 60 base64 characters: each encoded-word stays under 75.
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{b64encode(word).decode('ascii')}?=" for word in words)


def _envelope_address(email: str) -> str | None:
    """The address as the SMTP envelope needs it (IDNA domain); None if it cannot be sent."""
    if any(character in email for character in "\r\n<>") or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    if not local.isascii():
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return f"{local}@{domain}"


# --- The run ---------------------------------------------------------------------------------


class _Outcome:
    ACCEPTED = Delivery.Status.ACCEPTED
    FAILED = Delivery.Status.FAILED
    DEFERRED = "deferred"  # a temporary refusal: pending, tried again after a back-off
    UNTRIED = "untried"  # never reached the server: pending, no try counted


@dataclass
class _Work:
    delivery_id: int
    email: str
    name: str
    tries: int = 0


@dataclass
class _Result:
    work: _Work
    outcome: str
    reply: str
    fatal: bool = False
    recorded: threading.Event = field(default_factory=threading.Event)


class _Fatal(Exception):
    """The session cannot go on (refused, timed out, dropped, garbage): the run stops."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class _Dropped(_Fatal):
    """The server closed the connection; harmless only between two messages."""


class _Run:
    """One run of a claimed attempt: feeds the SMTP workers and writes the ledger."""

    def __init__(self, *, attempt: Attempt) -> None:
        self.attempt = attempt
        message = attempt.mailing.message
        self.letter = _Letter(subject=message.subject, body=message.body)
        options = settings.MAILERS["default"].get("OPTIONS", {})
        self.options = options
        self.timeout = float(options.get("timeout") or 10.0)
        self.concurrency = max(1, int(settings.EMAIL_CONCURRENCY))
        self.max_tries = max(1, int(settings.EMAIL_RETRIES))
        self.retry_delay = float(settings.EMAIL_RETRY_DELAY)
        self.lease_seconds = float(settings.SENDING_LEASE_SECONDS)
        self.work: queue.Queue[_Work | None] = queue.Queue()
        self.results: queue.Queue[_Result] = queue.Queue()
        self.stop = threading.Event()
        self.fatal_reply = ""
        self.lease_renewed_at = time.monotonic()
        self.progress_interval = min(0.5, self.lease_seconds / 4)
        self.unsaved_accepted = self.unsaved_failed = 0

    # The main thread.

    def send(self) -> str:
        """Send until no recipient is left to try now; return the reason the run stopped, if any."""
        pending = self._pending()
        first = next(pending, None)
        if first is None:
            return ""
        pending = _chain(first, pending)
        workers = [
            threading.Thread(target=self._worker, name=f"smtp-{n}", daemon=True)
            for n in range(min(self.concurrency, max(1, self.attempt.pending_count or 1)))
        ]
        for worker in workers:
            worker.start()
        retries: list[tuple[float, int, _Work]] = []
        outstanding = 0
        capacity = 2 * len(workers)
        exhausted = False
        try:
            while True:
                while not self.stop.is_set() and outstanding < capacity:
                    if retries and retries[0][0] <= time.monotonic():
                        work = heapq.heappop(retries)[2]
                    elif not exhausted and (work := next(pending, None)) is not None:
                        pass
                    else:
                        exhausted = True
                        break
                    self.work.put(work)
                    outstanding += 1
                if outstanding == 0 and (self.stop.is_set() or not retries):
                    break
                wait = self.lease_seconds / 4
                if retries:
                    wait = min(wait, max(0.001, retries[0][0] - time.monotonic()))
                try:
                    batch = [self.results.get(timeout=wait)]
                except queue.Empty:
                    self._renew_lease()
                    continue
                while True:
                    try:
                        batch.append(self.results.get_nowait())
                    except queue.Empty:
                        break
                outstanding -= len(batch)
                self._record(batch)
                for result in batch:
                    if result.outcome == _Outcome.DEFERRED and result.work.tries < self.max_tries:
                        due = time.monotonic() + self.retry_delay * 2 ** (result.work.tries - 1)
                        heapq.heappush(retries, (due, result.work.delivery_id, result.work))
        finally:
            self.stop.set()
            for _worker in workers:
                self.work.put(None)
            # Results still queued belong to work handed out before the stop: record them.
            for worker in workers:
                worker.join(timeout=self.timeout * 4 + 5)
            leftovers = []
            while True:
                try:
                    leftovers.append(self.results.get_nowait())
                except queue.Empty:
                    break
            if leftovers:
                self._record(leftovers)
        return self.fatal_reply

    def _pending(self) -> Iterator[_Work]:
        """The run's pending recipients, streamed in id order a batch at a time."""
        last_id = 0
        while True:
            rows = list(
                Delivery.objects.filter(
                    attempt_id=self.attempt.pk, status=Delivery.Status.PENDING, id__gt=last_id
                )
                .order_by("id")
                .values_list("id", "email", "client__full_name")[:_FETCH_BATCH]
            )
            if not rows:
                return
            last_id = rows[-1][0]
            for delivery_id, email, name in rows:
                yield _Work(delivery_id=delivery_id, email=email, name=name or "")
            del rows  # before the next batch is fetched: one batch in memory at a time

    def _record(self, batch: list[_Result]) -> None:
        """Write a batch of results in one transaction, renew the lease, then release workers."""
        now = timezone.now()
        tried = []
        accepted = failed = 0
        for result in batch:
            if result.fatal and not self.fatal_reply:
                self.fatal_reply = result.reply
            if result.outcome == _Outcome.UNTRIED:
                continue
            status = result.outcome
            if status == _Outcome.DEFERRED:
                status = Delivery.Status.PENDING
            accepted += status == Delivery.Status.ACCEPTED
            failed += status == Delivery.Status.FAILED
            # When the recipient's outcome became final; the statistics count days by it.
            sent_at = None if status == Delivery.Status.PENDING else now
            tried.append((status, result.reply[:_REPLY_LIMIT], sent_at, result.work.delivery_id))
        self.unsaved_accepted += accepted
        self.unsaved_failed += failed
        # The run's counters and lease are written at most a few times a second; the ledger
        # lines always. A lease is lost only after `SENDING_LEASE_SECONDS` without renewal,
        # so the first write after a stall that long checks it.
        progress_due = time.monotonic() - self.lease_renewed_at >= self.progress_interval
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if tried:
                    cursor.executemany(
                        f"UPDATE {Delivery._meta.db_table} "  # noqa: S608 - model table name
                        "SET status = %s, reply = %s, sent_at = %s, tries = tries + 1 "
                        f"WHERE id = %s AND status = '{Delivery.Status.PENDING}'",
                        tried,
                    )
                if not progress_due:
                    return
                accepted, failed = self.unsaved_accepted, self.unsaved_failed
                self.unsaved_accepted = self.unsaved_failed = 0
                cursor.execute(
                    f"UPDATE {Attempt._meta.db_table} "  # noqa: S608 - model table name
                    "SET accepted_count = accepted_count + %s, "
                    "failed_count = failed_count + %s, "
                    "pending_count = pending_count - %s, lease_expires_at = %s "
                    "WHERE id = %s AND lease_token = %s",
                    [
                        accepted,
                        failed,
                        accepted + failed,
                        _lease_end(now),
                        self.attempt.pk,
                        self.attempt.lease_token,
                    ],
                )
                if cursor.rowcount == 0:
                    # Another sender took the run over (this one stalled past its lease).
                    self._lose_lease()
            self.lease_renewed_at = time.monotonic()
        finally:
            for result in batch:
                result.recorded.set()

    def _renew_lease(self) -> None:
        if time.monotonic() - self.lease_renewed_at < self.lease_seconds / 4:
            return
        with transaction.atomic():
            renewed = Attempt.objects.filter(
                pk=self.attempt.pk,
                lease_token=self.attempt.lease_token,
                status=Attempt.Status.RUNNING,
            ).update(lease_expires_at=_lease_end(timezone.now()))
        if not renewed:
            self._lose_lease()
        self.lease_renewed_at = time.monotonic()

    def _lose_lease(self) -> None:
        self.stop.set()
        self.fatal_reply = self.fatal_reply or _("Another sender took this run over.")
        self.attempt.lease_token = "lost"

    # The worker threads: SMTP only, never the database.

    def _worker(self) -> None:
        session = _Session(options=self.options, timeout=self.timeout)
        previous: _Result | None = None
        try:
            while True:
                work = self.work.get()
                if work is None:
                    return
                if self.stop.is_set():
                    self.results.put(_Result(work=work, outcome=_Outcome.UNTRIED, reply=""))
                    continue
                try:
                    outcome, reply = self._deliver(session, work, previous)
                    fatal = False
                except _Fatal as error:
                    self.stop.set()
                    session.close()
                    outcome, reply, fatal = _Outcome.UNTRIED, error.reply, True
                except Exception as error:  # a bug must not leave the main thread waiting
                    logger.exception("SMTP worker failed")
                    self.stop.set()
                    session.close()
                    outcome, reply, fatal = _Outcome.UNTRIED, str(error), True
                if outcome != _Outcome.UNTRIED:
                    work.tries += 1
                previous = _Result(work=work, outcome=outcome, reply=reply, fatal=fatal)
                self.results.put(previous)
        finally:
            session.close()

    def _deliver(
        self, session: "_Session", work: _Work, previous: _Result | None
    ) -> tuple[str, str]:
        """Send one recipient their message; return (outcome, reply) or raise _Fatal."""
        recipient = _envelope_address(work.email)
        if recipient is None:
            return _Outcome.FAILED, _("The address cannot be used for sending.")
        fresh = session.open()
        mail_from = f"FROM:<{self.letter.sender}>{session.mail_options}"
        try:
            code, reply = session.command(session.send_command, "mail", mail_from)
        except _Dropped:
            if fresh:
                raise
            # An idle connection the server dropped: one new connection, then the same message.
            session.open()
            code, reply = session.command(session.send_command, "mail", mail_from)
        if code != 250:
            return self._refused(session, code, reply, stage="MAIL")
        code, reply = session.command(session.send_command, "rcpt", f"TO:<{recipient}>")
        if code not in (250, 251):
            return self._refused(session, code, reply, stage="RCPT")
        # The previous message of this connection must be in the ledger before this one goes:
        # a kill now can cost at most one message sent twice.
        if previous is not None:
            previous.recorded.wait()
        if self.stop.is_set():
            session.command(session.smtp.rset)
            return _Outcome.UNTRIED, ""
        content = self.letter.render(
            delivery_id=work.delivery_id,
            email=work.email,
            name=work.name,
            eight_bit=session.eight_bit,
        )
        try:
            code, reply = session.command(session.smtp.data, content)
        except smtplib.SMTPDataError as error:  # DATA itself refused, before any content
            return self._refused(session, error.smtp_code, _decode(error.smtp_error), stage="DATA")
        if code == 250:
            return _Outcome.ACCEPTED, f"{code} {reply}"
        return self._refused(session, code, reply, stage="MESSAGE")

    def _refused(
        self, session: "_Session", code: int, reply: str, *, stage: str
    ) -> tuple[str, str]:
        text = f"{code} {reply}"
        if code == 421 or not 400 <= code < 600:
            session.close()
            if code == 421:
                return _Outcome.DEFERRED, text
            raise _Fatal(_unintelligible(reply))
        if stage == "MAIL" and code >= 500:
            raise _Fatal(_("The mail server refused the sender: %(reply)s") % {"reply": text})
        if stage != "MESSAGE":
            session.command(session.smtp.rset)
        return (_Outcome.DEFERRED if code < 500 else _Outcome.FAILED), text


class _Session:
    """One SMTP connection of a worker, opened on first use and after the server drops it."""

    def __init__(self, *, options: dict, timeout: float) -> None:
        self.options = options
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None
        self.eight_bit = False
        self.mail_options = ""

    def open(self) -> bool:
        """Connect, greet, encrypt and log in unless connected; return whether it connected."""
        if self.smtp is not None:
            return False
        options = self.options
        host, port = options.get("host") or "localhost", options.get("port")
        use_ssl, use_tls = options.get("use_ssl"), options.get("use_tls")
        port = port or (465 if use_ssl else 587 if use_tls else 25)
        smtp_class = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
        try:
            smtp = smtp_class(host, port, local_hostname=DNS_NAME.get_fqdn(), timeout=self.timeout)
        except smtplib.SMTPConnectError as error:
            if error.smtp_code == -1:
                raise _Fatal(_unintelligible(error.smtp_error)) from None
            raise _Fatal(
                _("The mail server refused the connection: %(reply)s")
                % {"reply": f"{error.smtp_code} {_decode(error.smtp_error)}"}
            ) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as error:
            if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
                raise _Fatal(
                    _("No answer from the mail server at %(server)s within %(seconds)s s.")
                    % {"server": f"{host}:{port}", "seconds": f"{self.timeout:g}"}
                ) from None
            raise _Fatal(_("The mail server closed the connection.")) from None
        except OSError as error:
            raise _Fatal(
                _("Cannot connect to the mail server at %(server)s: %(error)s")
                % {"server": f"{host}:{port}", "error": error}
            ) from None
        self.smtp = smtp
        try:
            self.command(smtp.ehlo_or_helo_if_needed)
            if use_tls and not use_ssl:
                self.command(smtp.starttls)
                self.command(smtp.ehlo)
            if options.get("username") and options.get("password"):
                self.command(smtp.login, options["username"], options["password"])
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            raise _Fatal(
                _("The mail server refused the login: %(reply)s")
                % {"reply": f"{error.smtp_code} {_decode(error.smtp_error)}"}
            ) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            if error.smtp_code == -1:
                raise _Fatal(_unintelligible(error.smtp_error)) from None
            raise _Fatal(
                _("The mail server refused the session: %(reply)s")
                % {"reply": f"{error.smtp_code} {_decode(error.smtp_error)}"}
            ) from None
        except smtplib.SMTPException as error:
            self.close()
            raise _Fatal(
                _("The mail server refused the session: %(error)s") % {"error": error}
            ) from None
        self.eight_bit = smtp.has_extn("8bitmime")
        self.mail_options = " BODY=8BITMIME" if self.eight_bit else ""
        return True

    def send_command(self, verb: str, argument: str) -> tuple[int, bytes]:
        """One command and its reply. Unlike smtplib's mail() and rcpt(), the addresses are
        not parsed again: they were checked once, and parsing costs more than sending."""
        self.smtp.putcmd(verb, argument)
        return self.smtp.getreply()

    def command(self, method, *args):
        """Run one smtplib call; turn a timeout or a lost connection into a stop of the run."""
        try:
            result = method(*args)
        except smtplib.SMTPServerDisconnected as error:
            self.close()
            # smtplib reports a read that timed out as a disconnection.
            if isinstance(error.__context__, TimeoutError):
                raise self._timed_out() from None
            raise _Dropped(_("The mail server closed the connection.")) from None
        except smtplib.SMTPException:
            raise  # a reply the caller reads (refusals, failed login)
        except TimeoutError:
            self.close()
            raise self._timed_out() from None
        except OSError as error:
            self.close()
            raise _Fatal(
                _("The connection to the mail server broke: %(error)s") % {"error": error}
            ) from None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
            return result[0], _decode(result[1])
        return result

    def _timed_out(self) -> "_Fatal":
        return _Fatal(
            _("No answer from the mail server within %(seconds)s s.")
            % {"seconds": f"{self.timeout:g}"}
        )

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.sock.settimeout(min(self.timeout, 2.0))
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()


def _unintelligible(reply: bytes | str) -> str:
    return _("Unintelligible reply from the mail server: %(reply)s") % {"reply": _decode(reply)}


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _chain(first, rest):
    yield first
    yield from rest
