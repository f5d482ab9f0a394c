"""Reading the domain: every view reaches a user's data through these, and only these."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing, Message, User


def client_list(*, user: User) -> QuerySet[Client]:
    """The user's clients."""
    return Client.objects.filter(owner=user)


def message_list(*, user: User) -> QuerySet[Message]:
    """The user's messages."""
    return Message.objects.filter(owner=user)


def mailing_list(*, user: User) -> QuerySet[Mailing]:
    """The user's mailings, with their message fetched in the same query."""
    return Mailing.objects.filter(owner=user).select_related("message")


def attempt_list(*, user: User) -> QuerySet[Attempt]:
    """Attempts of the user's mailings, with the mailing and its message in the same query."""
    return Attempt.objects.filter(mailing__owner=user).select_related("mailing__message")


def delivery_list(*, user: User) -> QuerySet[Delivery]:
    """Per-recipient ledger lines of the user's mailings."""
    return Delivery.objects.filter(owner=user)


# --- Statistics: every figure for one user comes from an aggregate query, so the number of
# queries, and the rows Python sees, do not grow with the number of runs or recipients.


@dataclass(frozen=True)
class DashboardFigures:
    """The home page's counters for one user."""

    mailings_total: int
    mailings_running: int
    mailings_finished: int
    clients: int
    messages: int
    deliveries_accepted: int
    deliveries_failed: int
    deliveries_pending: int
    attempts_success: int
    attempts_failure: int
    attempts_running: int


@dataclass(frozen=True)
class DayDeliveries:
    """Deliveries accepted and failed on one local day."""

    day: date
    accepted: int
    failed: int


def dashboard_figures(*, user: User) -> DashboardFigures:
    """Every counter of the dashboard, in five aggregate queries whatever the volume."""
    mailings = Mailing.objects.filter(owner=user).aggregate(
        total=Count("pk"),
        running=Count("pk", filter=Q(status=Mailing.Status.RUNNING)),
        finished=Count("pk", filter=Q(status=Mailing.Status.FINISHED)),
    )
    # GROUP BY status over the (owner, status, sent_at) index: a scan of the index alone.
    deliveries = dict(
        Delivery.objects.filter(owner=user)
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
    )
    attempts = dict(
        Attempt.objects.filter(mailing__owner=user)
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
    )
    return DashboardFigures(
        mailings_total=mailings["total"],
        mailings_running=mailings["running"],
        mailings_finished=mailings["finished"],
        clients=Client.objects.filter(owner=user).count(),
        messages=Message.objects.filter(owner=user).count(),
        deliveries_accepted=deliveries.get(Delivery.Status.ACCEPTED, 0),
        deliveries_failed=deliveries.get(Delivery.Status.FAILED, 0),
        deliveries_pending=deliveries.get(Delivery.Status.PENDING, 0),
        attempts_success=attempts.get(Attempt.Status.SUCCESS, 0),
        attempts_failure=attempts.get(Attempt.Status.FAILURE, 0),
        attempts_running=attempts.get(Attempt.Status.RUNNING, 0),
    )


def deliveries_per_day(*, user: User, now: datetime, days: int = 30) -> list[DayDeliveries]:
    """Deliveries accepted and failed per local day over the last `days` days, today included.

    One query. The day of each row is found by comparing `sent_at` with the local midnights
    (computed here, so daylight-saving days are right) instead of a per-row date conversion,
    which SQLite would run in Python for every row.
    """
    today = timezone.localdate(now)
    day_list = [today - timedelta(days=days - 1 - offset) for offset in range(days)]
    tz = timezone.get_current_timezone()
    midnights = [datetime.combine(day, time.min, tzinfo=tz) for day in day_list]
    midnights.append(datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz))
    day_index = Case(
        *(
            When(sent_at__lt=midnight, then=Value(index))
            for index, midnight in enumerate(midnights[1:-1])
        ),
        default=Value(days - 1),
        output_field=IntegerField(),
    )
    rows = (
        Delivery.objects.filter(
            owner=user,
            status__in=[Delivery.Status.ACCEPTED, Delivery.Status.FAILED],
            sent_at__gte=midnights[0],
            sent_at__lt=midnights[-1],
        )
        .order_by()
        .annotate(day_index=day_index)
        .values_list("day_index", "status")
        .annotate(count=Count("pk"))
    )
    counts = {(index, status): count for index, status, count in rows}
    return [
        DayDeliveries(
            day=day,
            accepted=counts.get((index, Delivery.Status.ACCEPTED), 0),
            failed=counts.get((index, Delivery.Status.FAILED), 0),
        )
        for index, day in enumerate(day_list)
    ]


def mailing_next_runs(*, user: User, limit: int = 5) -> QuerySet[Mailing]:
    """The user's mailings that run soonest, not finished ones."""
    return (
        mailing_list(user=user)
        .filter(next_run_at__isnull=False)
        .exclude(status=Mailing.Status.FINISHED)
        .order_by("next_run_at", "pk")[:limit]
    )


@dataclass(frozen=True)
class MailingRun:
    """One run of a mailing with its ledger counted."""

    attempt: Attempt
    accepted: int
    failed: int
    pending: int


@dataclass(frozen=True)
class MailingReport:
    """What happened to one mailing: its runs, what failed and why."""

    runs: list[MailingRun]
    run_count: int
    accepted: int
    failed: int
    pending: int
    top_failure_replies: list[tuple[str, int]]
    failed_deliveries: list[Delivery]


def mailing_report(
    *, mailing: Mailing, run_limit: int = 20, reply_limit: int = 5, failure_limit: int = 50
) -> MailingReport:
    """The latest runs of a mailing counted from the ledger, its totals and its failures.

    Six queries whatever the volume; long lists stop at the limits (the CSV has everything).
    """
    attempts = Attempt.objects.filter(mailing=mailing).order_by("-attempted_at", "-pk")
    latest = list(attempts[:run_limit])
    deliveries = Delivery.objects.filter(mailing=mailing).order_by()
    per_run = {
        (attempt_id, status): count
        for attempt_id, status, count in deliveries.filter(attempt__in=[a.pk for a in latest])
        .values_list("attempt_id", "status")
        .annotate(count=Count("pk"))
    }
    totals = dict(deliveries.values_list("status").annotate(count=Count("pk")))
    failed = deliveries.filter(status=Delivery.Status.FAILED)
    return MailingReport(
        runs=[
            MailingRun(
                attempt=attempt,
                accepted=per_run.get((attempt.pk, Delivery.Status.ACCEPTED), 0),
                failed=per_run.get((attempt.pk, Delivery.Status.FAILED), 0),
                pending=per_run.get((attempt.pk, Delivery.Status.PENDING), 0),
            )
            for attempt in latest
        ],
        run_count=attempts.count(),
        accepted=totals.get(Delivery.Status.ACCEPTED, 0),
        failed=totals.get(Delivery.Status.FAILED, 0),
        pending=totals.get(Delivery.Status.PENDING, 0),
        top_failure_replies=list(
            failed.values_list("reply")
            .annotate(count=Count("pk"))
            .order_by("-count", "reply")[:reply_limit]
        ),
        failed_deliveries=list(
            failed.select_related("attempt").order_by("-sent_at", "-pk")[:failure_limit]
        ),
    )


def mailing_delivery_ledger(*, mailing: Mailing) -> QuerySet[Delivery]:
    """Every ledger line of a mailing, run by run, for the CSV download."""
    return (
        Delivery.objects.filter(mailing=mailing)
        .select_related("attempt")
        .order_by("attempt__attempted_at", "attempt_id", "email")
    )
