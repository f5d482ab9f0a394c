"""A run's ending: its counts from the ledger, its summary, and whether it waits to resume."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from core.models import Attempt, Delivery, Mailing, User
from core.outcomes import said, said_together
from core.services.sending.batches import batches_forget
from core.services.sending.claims import attempt_recount
from core.services.sending.controls import attempt_close_stopped, mailing_finish_if_done
from core.services.sending.quota import daily_quota_of, day_bounds
from core.services.sending.tally import run_ended_tally_add


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
    # Left out: the client had unsubscribed or bounced. Neither sent nor failed.
    skipped: int = 0
    # The server refused, hung or failed the session: the tick's other runs wait for it.
    server_failed: bool = False
    # Batches of the run this sender worked (a joiner that found none has nothing to say).
    batches: int = 0


def attempt_finish(
    *,
    attempt: Attempt,
    fatal_reply: str,
    lease_lost: bool = False,
    stop_reason: str = "",
    quota_reached: bool = False,
    released: bool = False,
) -> RunReport:
    """Close the run with its counts; success when no recipient failed or is left pending,
    and there was someone to send to (recipients skipped as unsubscribed or bounced are no
    failure).

    A run that still has recipients pending waits to resume instead (see `_resume_at`); one
    that reached its owner's daily quota, until the next local midnight. A run that was
    asked to stop (`stop_reason`) ends as stopped, its pending recipients left pending. A
    sender that lost its lease writes nothing: the run belongs to the sender that took it.
    A run `released` by a sender that was shut down stays open with no holder, for the next
    sender to take at once. A run deleted meanwhile (with its mailing) is reported as such.
    """
    if not Attempt.objects.filter(pk=attempt.pk).exists():
        return run_report(attempt, status="deleted")
    if lease_lost:
        return _reported(attempt)
    if stop_reason:
        with transaction.atomic():
            closed = attempt_close_stopped(
                attempt=attempt,
                reason=stop_reason,
                now=timezone.now(),
                lease_token=attempt.lease_token,
            )
            if closed:
                attempt_recount(attempt)
        return _reported(attempt)
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
        skipped = counts.get(Delivery.Status.SKIPPED, 0)
        success = accepted + skipped > 0 and failed == pending == 0 and not fatal_reply
        response = fatal_reply or _summary(
            attempt=attempt, accepted=accepted, failed=failed, pending=pending, skipped=skipped
        )
        held = Attempt.objects.filter(
            pk=attempt.pk, lease_token=attempt.lease_token, status=Attempt.Status.RUNNING
        )
        if released and pending:
            held.update(
                server_response=said("run.released", count=pending),
                lease_token="",
                lease_expires_at=timezone.now(),
                accepted_count=accepted,
                failed_count=failed,
                pending_count=pending,
                skipped_count=skipped,
            )
            return _reported(attempt)
        if quota_reached and pending and not fatal_reply:
            return _wait_for_quota(
                attempt=attempt,
                held=held,
                counts=(accepted, failed, pending, skipped),
                now=timezone.now(),
            )
        resume_at = _resume_at(attempt=attempt, pending=pending, now=timezone.now())
        if resume_at is not None:
            # Left open, with no holder: the first sender after `resume_at` takes it and
            # sends to the pending recipients only, cut into batches anew.
            resumes = held.update(
                server_response=said("run.resumes", reply=response, time=resume_at),
                lease_token="",
                lease_expires_at=None,
                resume_at=resume_at,
                resumes=F("resumes") + 1,
                quota_reserved=0,
                accepted_count=accepted,
                failed_count=failed,
                pending_count=pending,
                skipped_count=skipped,
            )
            if resumes:
                batches_forget(attempt_id=attempt.pk)
            return _reported(attempt)
        ended = Attempt.Status.SUCCESS if success else Attempt.Status.FAILURE
        updated = held.update(
            status=ended,
            server_response=response,
            finished_at=timezone.now(),
            lease_expires_at=None,
            quota_reserved=0,
            accepted_count=accepted,
            failed_count=failed,
            pending_count=pending,
            skipped_count=skipped,
        )
        if updated:
            run_ended_tally_add(attempt=attempt, status=ended)
            batches_forget(attempt_id=attempt.pk)
            mailing_finish_if_done(mailing_id=attempt.mailing_id)
    return _reported(attempt)


def _wait_for_quota(*, attempt: Attempt, held, counts: tuple[int, int, int, int], now: datetime):
    """The run reached its owner's daily quota: its pending recipients wait, with the reason,
    until the next local midnight; or, when the mailing's next run comes first, the run ends
    and that run sends to everyone. Resumes for the quota do not count against EMAIL_RESUMES.
    """
    accepted, failed, pending, skipped = counts
    owner = User.objects.only("daily_quota").get(pk=attempt.mailing.owner_id)
    quota = daily_quota_of(owner)
    _start, midnight = day_bounds(now)
    next_run_at = (
        Mailing.objects.filter(pk=attempt.mailing_id).values_list("next_run_at", flat=True).first()
    )
    waits = next_run_at is None or midnight < next_run_at
    if waits:
        reason = said("quota.after_midnight", quota=quota)
    else:
        reason = said("quota.next_run", quota=quota)
    counted = {
        "accepted_count": accepted,
        "failed_count": failed,
        "pending_count": pending,
        "skipped_count": skipped,
        "lease_token": "",
        "lease_expires_at": None,
        "quota_reserved": 0,
    }
    if waits:
        updated = held.update(server_response=reason, resume_at=midnight, **counted)
    else:
        updated = held.update(
            status=Attempt.Status.FAILURE,
            server_response=reason,
            finished_at=now,
            **counted,
        )
    if updated:
        batches_forget(attempt_id=attempt.pk)
        Delivery.objects.filter(attempt=attempt, status=Delivery.Status.PENDING).update(
            reply=reason
        )
        if not waits:
            run_ended_tally_add(attempt=attempt, status=Attempt.Status.FAILURE)
            mailing_finish_if_done(mailing_id=attempt.mailing_id)
    return _reported(attempt)


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


def _summary(*, attempt: Attempt, accepted: int, failed: int, pending: int, skipped: int) -> str:
    if accepted + failed + pending + skipped == 0:
        return said("run.no_clients")
    sent = Delivery.objects.filter(attempt=attempt).exclude(reply="")
    skipped_part = said("run.skipped", count=skipped) if skipped else ""
    if failed == 0 and pending == 0:
        last_reply = (
            sent.filter(status=Delivery.Status.ACCEPTED)
            .order_by("-sent_at")
            .values_list("reply", flat=True)
            .first()
        )
        return said_together("; ", last_reply, skipped_part)
    parts = []
    if failed:
        parts.append(said("run.refused", count=failed))
    if pending:
        parts.append(said("run.still_pending", count=pending))
    failure_reply = (
        sent.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.PENDING])
        .values_list("reply", flat=True)
        .first()
    )
    text = said_together(": ", said_together(", ", *parts), failure_reply)
    return said_together("; ", text, skipped_part)


def _reported(attempt: Attempt) -> RunReport:
    """The report of a run just written, or of the run as it was if it was deleted meanwhile."""
    try:
        attempt.refresh_from_db()
    except Attempt.DoesNotExist:
        return run_report(attempt, status="deleted")
    return run_report(attempt)


def run_report(attempt: Attempt, *, status: str = "") -> RunReport:
    """What the run did, as it stands in the database (`status` instead of its own)."""
    return RunReport(
        attempt_id=attempt.pk,
        mailing_id=attempt.mailing_id,
        status=status or attempt.status,
        accepted=attempt.accepted_count,
        failed=attempt.failed_count,
        pending=attempt.pending_count,
        server_response=attempt.server_response,
        skipped=attempt.skipped_count,
    )
