"""The sending services: what the cron job, the command line and "send now" call."""

import logging
import time
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import Attempt, Mailing
from core.outcomes import said
from core.services.sending.batches import attempt_join
from core.services.sending.claims import (
    attempt_claim_due,
    attempt_claim_open,
    attempt_open,
    attempts_close_superseded,
)
from core.services.sending.controls import (
    SendRefused,
    attempts_close_held_back,
    mailing_send_refusal,
)
from core.services.sending.ledger import RunReport, attempt_finish, run_report
from core.services.sending.shutdown import shutdown_on_signals, shutdown_requested
from core.services.sending.workers import RunSender

logger = logging.getLogger(__name__)

# The circuit breaker of the mail server: until when (time.monotonic) this process leaves it
# alone after it refused, hung or failed a run. One server per installation (MAILERS).
_server_rest_until = 0.0


def server_rest() -> None:
    """Leave the mail server alone for EMAIL_SERVER_REST_SECONDS (and for the rest of the tick)."""
    global _server_rest_until
    _server_rest_until = time.monotonic() + max(settings.EMAIL_SERVER_REST_SECONDS, 0.0)


def server_resting() -> bool:
    """Whether the mail server failed a run lately: send nothing to it now."""
    return time.monotonic() < _server_rest_until


def mailings_send_due(
    *, now: datetime | None = None, mailing_id: int | None = None, attempt_id: int | None = None
) -> list[RunReport]:
    """Take up open runs without a live sender, then run every mailing that is due, then help
    with the open runs other senders hold that have batches nobody works; one report each.

    `mailing_id` limits all three to one mailing, `attempt_id` to one opened run. A failing
    run never stops the others.
    """
    now = now or timezone.now()
    # Runs asked to stop that nobody sends (waiting to resume, or never taken) end here, and
    # so do runs overtaken by their mailing's next slot or end: that slot's run sends anew.
    attempts_close_held_back(now=now, mailing_id=mailing_id)
    attempts_close_superseded(now=now, mailing_id=mailing_id)
    reports = []
    seen_attempts: set[int] = set()
    server_failed = False
    with shutdown_on_signals():
        while not (shutdown_requested() or server_failed or server_resting()):
            attempt = attempt_claim_open(
                now=now, mailing_id=mailing_id, attempt_id=attempt_id, exclude=seen_attempts
            )
            if attempt is None and attempt_id is None:
                attempt = attempt_claim_due(now=now, mailing_id=mailing_id)
            joined = False
            if attempt is None:
                # Another sender holds the run; its batches are anyone's.
                attempt = attempt_join(
                    now=timezone.now(),
                    mailing_id=mailing_id,
                    attempt_id=attempt_id,
                    exclude=seen_attempts,
                )
                joined = True
            if attempt is None:
                break
            seen_attempts.add(attempt.pk)
            report = attempt_run(attempt=attempt, joined=joined)
            if report.server_failed:
                # The other mailings due for this server stay due, not each waiting for
                # the server's timeout: a later tick tries them (see `server_rest`).
                server_failed = True
                server_rest()
            if report.status != "joined" or report.batches:
                reports.append(report)
    return reports


def mailing_send_now(*, mailing: Mailing, now: datetime | None = None) -> RunReport:
    """Run `mailing` at once in this process, whatever its schedule ("send now", `--mailing`).

    Raises SendRefused, and sends nothing, when a run of it is still open, or it is paused,
    disabled or its owner blocked.
    """
    attempt = mailing_send_start(mailing=mailing, now=now)
    claimed = attempt_claim_open(
        now=max(attempt.attempted_at, timezone.now()), attempt_id=attempt.pk
    )
    if claimed is None:  # another sender took it over in between: it reports it
        attempt.refresh_from_db()
        return run_report(attempt)
    with shutdown_on_signals():
        return attempt_run(attempt=claimed)


def mailing_send_start(*, mailing: Mailing, now: datetime | None = None) -> Attempt:
    """Open an unscheduled run of `mailing` with its ledger, ready for any sender to take.

    The run is created with an expired lease: the detached sender started after it, or
    else the next `send_mailings`, claims it and sends. Returns at once.

    Raises SendRefused when a run of the mailing is still open (running, or waiting to
    resume), or the mailing is paused, disabled or its owner blocked. Decided with the
    mailing's row locked (SQLite serialises write transactions instead), so of many requests
    at once exactly one opens a run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Mailing.objects.select_for_update(of=("self",))
            .select_related("owner")
            .get(pk=mailing.pk)
        )
        refusal = mailing_send_refusal(mailing=locked)
        if refusal:
            raise SendRefused(refusal)
        attempt = attempt_open(mailing=mailing, now=now, slot_at=None)
        # Open to any sender: no holder, and a lease that is already over.
        attempt.lease_expires_at = now
        attempt.save(update_fields=["lease_expires_at"])
        if mailing.status == Mailing.Status.CREATED:
            Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.CREATED).update(
                status=Mailing.Status.RUNNING
            )
    return attempt


def attempt_run(*, attempt: Attempt, joined: bool = False) -> RunReport:
    """Send to the pending recipients of a claimed run and close it; never raises for SMTP.

    `joined`: the run is another sender's; this one only works batches of it, and ends it only
    if its holder is gone by then (see `batches`).
    """
    sender = None
    try:
        if shutdown_requested():  # claimed, then asked to stop: the next sender takes it
            if joined:
                return replace(run_report(attempt), status="joined", accepted=0)
            return attempt_finish(attempt=attempt, fatal_reply="", released=True)
        sender = RunSender(attempt=attempt, holds_run=not joined)
        fatal_reply = sender.send()
    except Exception as error:  # a bug, a letter that cannot be built, a database failure
        logger.exception("Run %s of mailing %s failed", attempt.pk, attempt.mailing_id)
        fatal_reply = said("run.sender_failed", error=error)
    if joined and (sender is None or not sender.holds_run):
        # Its holder ends the run; this sender says what it sent of it.
        return replace(
            run_report(attempt),
            status="joined",
            accepted=sender.accepted_here if sender is not None else 0,
            batches=sender.batches_worked if sender is not None else 0,
            server_failed=sender is not None and sender.server_failed,
        )
    report = attempt_finish(
        attempt=attempt,
        fatal_reply=fatal_reply,
        lease_lost=sender is not None and sender.lease_lost,
        stop_reason=sender.stop_reason if sender is not None else "",
        quota_reached=sender is not None and sender.quota_reached,
        released=sender is not None and sender.shutting_down,
    )
    return replace(report, server_failed=sender is not None and sender.server_failed)
