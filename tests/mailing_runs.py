"""Runs of mailings written straight to the ledger, as the sending engine would leave them."""

from datetime import datetime

from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing, Message, User

ACCEPTED = Delivery.Status.ACCEPTED
FAILED = Delivery.Status.FAILED
PENDING = Delivery.Status.PENDING
SKIPPED = Delivery.Status.SKIPPED


def make_mailing(
    owner: User,
    *,
    subject: str = "Weekly news",
    status: str = Mailing.Status.RUNNING,
    next_run_at: datetime | None = None,
    clients: list[Client] = (),
) -> Mailing:
    message = Message.objects.create(owner=owner, subject=subject, body="Hello")
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=now - timezone.timedelta(days=10),
        end_at=now + timezone.timedelta(days=30),
        status=status,
        next_run_at=next_run_at,
    )
    mailing.clients.set(clients)
    return mailing


def record_run(
    mailing: Mailing,
    outcomes: dict[str, tuple[str, str]],
    *,
    at: datetime,
    status: str | None = None,
    server_response: str = "",
) -> Attempt:
    """One run: `outcomes` maps each recipient's email to (delivery status, server reply)."""
    counts = {
        s: sum(1 for o, _ in outcomes.values() if o == s)
        for s in (ACCEPTED, FAILED, PENDING, SKIPPED)
    }
    if status is None:
        status = (
            Attempt.Status.RUNNING
            if counts[PENDING]
            else (Attempt.Status.SUCCESS if counts[ACCEPTED] else Attempt.Status.FAILURE)
        )
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=at,
        status=status,
        server_response=server_response,
        finished_at=None if status == Attempt.Status.RUNNING else at,
        accepted_count=counts[ACCEPTED],
        failed_count=counts[FAILED],
        pending_count=counts[PENDING],
        skipped_count=counts[SKIPPED],
    )
    clients = {
        c.email: c for c in Client.objects.filter(owner=mailing.owner_id, email__in=outcomes)
    }
    Delivery.objects.bulk_create(
        Delivery(
            attempt=attempt,
            mailing=mailing,
            owner_id=mailing.owner_id,
            client=clients.get(email),
            email=email,
            status=outcome,
            reply=reply,
            tries=0 if outcome in (PENDING, SKIPPED) else 1,
            sent_at=None if outcome in (PENDING, SKIPPED) else at,
        )
        for email, (outcome, reply) in outcomes.items()
    )
    return attempt
