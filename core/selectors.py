"""Reading the domain: every view reaches a user's data through these, and only these."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from django.db import connection, models
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import (
    Attempt,
    Client,
    Delivery,
    Import,
    Mailing,
    Message,
    SendingTally,
    Tag,
    User,
)


def client_list(*, user: User) -> QuerySet[Client]:
    """The user's clients."""
    return Client.objects.filter(owner=user)


def clients_matching(clients: QuerySet[Client], *, text: str) -> QuerySet[Client]:
    """Those of `clients` whose email, full name or comment contains `text`, whatever the case
    of either, Cyrillic included: one LIKE on the case-folded search column (a trigram index
    serves it on PostgreSQL). A blank `text` matches all."""
    term = text.strip().casefold()
    return clients.filter(search_text__contains=term) if term else clients


def tag_list(*, user: User) -> QuerySet[Tag]:
    """The user's tags, by name."""
    return Tag.objects.filter(owner=user)


def mailing_recipients(*, mailing: Mailing | OuterRef) -> QuerySet[Client]:
    """The clients a run of `mailing` (or of the outer query's mailing, for an OuterRef of its
    pk) goes to now: its chosen clients and every client carrying one of its tags, each once,
    the suppressed ones included (a run skips them). Two `IN` subqueries, no duplicates."""
    mailing_id = mailing if isinstance(mailing, OuterRef) else mailing.pk
    chosen = Mailing.clients.through.objects.filter(mailing_id=mailing_id).values("client_id")
    tagged = Client.tags.through.objects.filter(tag__mailings=mailing_id).values("client_id")
    recipients = Client.objects.filter(Q(pk__in=chosen) | Q(pk__in=tagged))
    if isinstance(mailing, OuterRef):
        return recipients
    return recipients.filter(owner_id=mailing.owner_id)


def recipient_count_subquery() -> Coalesce:
    """An annotation of a mailing queryset: how many recipients each mailing has now (see
    mailing_recipients); one correlated count a row."""
    # COUNT as a plain function: no GROUP BY, one number for the whole subquery.
    recipients = (
        mailing_recipients(mailing=OuterRef(OuterRef("pk")))
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return Coalesce(Subquery(recipients, output_field=IntegerField()), 0)


def message_list(*, user: User) -> QuerySet[Message]:
    """The user's messages."""
    return Message.objects.filter(owner=user)


def mailing_list(*, user: User) -> QuerySet[Mailing]:
    """The user's mailings, with their message fetched in the same query."""
    return Mailing.objects.filter(owner=user).select_related("message")


def client_tags(*, clients: list[Client]) -> dict[int, list[tuple[str, str]]]:
    """The tags of `clients` as (key, name) pairs in tag order, by client key: one query."""
    tags: dict[int, list[tuple[str, str]]] = {}
    rows = (
        Client.tags.through.objects.filter(client__in=[client.pk for client in clients])
        .order_by("tag__key", "tag_id")
        .values_list("client_id", "tag__key", "tag__name")
    )
    for client_id, key, name in rows:
        tags.setdefault(client_id, []).append((key, name))
    return tags


def import_list(*, user: User) -> QuerySet[Import]:
    """The user's imports of clients, newest first."""
    return Import.objects.filter(owner=user)


def attempt_list(*, user: User) -> QuerySet[Attempt]:
    """Attempts of the user's mailings, with the mailing and its message in the same query."""
    return Attempt.objects.filter(mailing__owner=user).select_related("mailing__message")


def delivery_list(*, user: User) -> QuerySet[Delivery]:
    """Per-recipient ledger lines of the user's mailings."""
    return Delivery.objects.filter(owner=user)


# --- Oversight: what a manager reads about every user (core.views.manage). Owner pages never
# use these.


def _count_per_owner(queryset: QuerySet) -> Subquery:
    return Coalesce(
        Subquery(
            queryset.filter(owner=OuterRef("pk"))
            .order_by()
            .values("owner")
            .annotate(count=Count("*"))
            .values("count"),
            output_field=IntegerField(),
        ),
        0,
    )


def user_overview(*, now: datetime) -> QuerySet[User]:
    """Every user with their clients, mailings and letters accepted over the last STATS_DAYS.

    The counts are subqueries of the one query that reads a page of users, each a range of an
    index (owner, ...): one query per page whatever the page holds.
    """
    since = now - timedelta(days=STATS_DAYS)
    return User.objects.annotate(
        client_count=_count_per_owner(Client.objects.all()),
        mailing_count=_count_per_owner(Mailing.objects.all()),
        letters_sent=_count_per_owner(
            Delivery.objects.filter(status=Delivery.Status.ACCEPTED, sent_at__gte=since)
        ),
    )


def mailing_oversight_list() -> QuerySet[Mailing]:
    """Every user's mailings, with their message and owner fetched in the same query."""
    return Mailing.objects.select_related("message", "owner")


# --- Statistics: every figure for one user comes from aggregate queries, a fixed number of them
# whatever the volume. Letters and runs are counted over a window of recent days, read from
# indexes by range, so a long history does not slow the page down: all-time figures of one
# mailing are in its report.

STATS_DAYS = 30


@dataclass(frozen=True)
class DayDeliveries:
    """Letters accepted and failed on one local day."""

    day: date
    accepted: int
    failed: int


@dataclass(frozen=True)
class DeliveryWindow:
    """Letters per local day over the last days, and the letters still waiting to be sent;
    from the tally, also the runs opened in those days by status (else None)."""

    days: list[DayDeliveries]
    pending: int
    runs: dict[str, int] | None = None

    @property
    def accepted(self) -> int:
        return sum(day.accepted for day in self.days)

    @property
    def failed(self) -> int:
        return sum(day.failed for day in self.days)

    @property
    def start(self) -> datetime:
        return local_midnight(self.days[0].day)


@dataclass(frozen=True)
class DashboardFigures:
    """The home page's counters for one user; letters and runs over the last STATS_DAYS days."""

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
    days: list[DayDeliveries]


def local_midnight(day: date) -> datetime:
    """The start of a local day in the current time zone: the bound a day's range starts at."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def delivery_window(*, user: User, now: datetime, days: int = STATS_DAYS) -> DeliveryWindow:
    """Letters accepted and failed per local day over the last `days` days, today included,
    and the runs opened since by status.

    One statement: the letters waiting (a range of the (owner, status, sent_at) index); per
    day and status, a sum over the day's rows of the tally the sending engine keeps (a range of
    at most 100 entries of its covering index), whatever the volume; the runs ended in success
    or failure, summed from the tally too, and those still running, counted.
    Local midnights are computed here, so daylight-saving days are right. A zone whose
    midnights are not whole quarter-hours of UTC (none in use today) is counted from the ledger.
    """
    today = timezone.localdate(now)
    day_list = [today - timedelta(days=days - 1 - offset) for offset in range(days)]
    bounds = [local_midnight(day) for day in [*day_list, today + timedelta(days=1)]]
    if not all(SendingTally.starts_quarter(bound) for bound in bounds):
        return _delivery_window_counted(user=user, day_list=day_list, bounds=bounds)
    quarters = [SendingTally.quarter_of(bound) for bound in bounds]
    quote = connection.ops.quote_name
    tally = quote(SendingTally._meta.db_table)
    # Only quoted names are formatted in; every value is a parameter.
    sums = [
        f"(SELECT COALESCE(SUM({quote(column)}), 0) FROM {tally}"  # noqa: S608
        f" WHERE {quote('owner_id')} = %s AND {quote('quarter')} >= %s"
        f" AND {quote('quarter')} < %s)"
        for column in ("accepted", "failed")
    ]
    columns, parameters = [_pending_count()], [user.pk, Delivery.Status.PENDING.value]
    for index in range(days):
        for column in sums:
            columns.append(column)
            parameters += [user.pk, quarters[index], quarters[index + 1]]
    # The runs opened since the first midnight: ended ones from the tally, those still
    # running counted (a range of the (status, attempted_at) index: a few rows).
    for column in ("runs_succeeded", "runs_failed"):
        columns.append(
            f"(SELECT COALESCE(SUM({quote(column)}), 0) FROM {tally}"  # noqa: S608
            f" WHERE {quote('owner_id')} = %s AND {quote('quarter')} >= %s)"
        )
        parameters += [user.pk, quarters[0]]
    attempt, mailing = quote(Attempt._meta.db_table), quote(Mailing._meta.db_table)
    columns.append(
        f"(SELECT COUNT(*) FROM {attempt} INNER JOIN {mailing}"  # noqa: S608
        f" ON {attempt}.{quote('mailing_id')} = {mailing}.{quote('id')}"
        f" WHERE {mailing}.{quote('owner_id')} = %s AND {attempt}.{quote('status')} = %s"
        f" AND {attempt}.{quote('attempted_at')} >= %s)"
    )
    adapt = connection.ops.adapt_datetimefield_value
    parameters += [user.pk, Attempt.Status.RUNNING.value, adapt(bounds[0])]
    return _delivery_window_of(columns, parameters, day_list, runs=3)


def _pending_count() -> str:
    quote = connection.ops.quote_name
    return (
        f"(SELECT COUNT(*) FROM {quote(Delivery._meta.db_table)} WHERE {quote('owner_id')} = %s"  # noqa: S608
        f" AND {quote('status')} = %s)"
    )


def _delivery_window_of(
    columns: list[str], parameters: list, day_list: list[date], *, runs: int = 0
) -> DeliveryWindow:
    """Run the window's statement: the letters waiting, accepted and failed per day, then
    (with `runs`) the runs succeeded, failed and running."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", parameters)
        waiting, *counts = cursor.fetchone()
    by_status = None
    if runs:
        counts, (succeeded, failed, running) = counts[:-runs], counts[-runs:]
        by_status = {
            Attempt.Status.SUCCESS: succeeded,
            Attempt.Status.FAILURE: failed,
            Attempt.Status.RUNNING: running,
        }
    return DeliveryWindow(
        days=[
            DayDeliveries(day=day, accepted=counts[2 * index], failed=counts[2 * index + 1])
            for index, day in enumerate(day_list)
        ],
        pending=waiting,
        runs=by_status,
    )


def _delivery_window_counted(
    *, user: User, day_list: list[date], bounds: list[datetime]
) -> DeliveryWindow:
    """The window counted from the ledger: per day and status, a range of the (owner, status,
    sent_at) index. The statement is written out, not built from 61 querysets: building those
    cost far more than running them."""
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    count = (
        f"(SELECT COUNT(*) FROM {quote(Delivery._meta.db_table)} WHERE {quote('owner_id')} = %s"  # noqa: S608
        f" AND {quote('status')} = %s AND {quote('sent_at')} >= %s AND {quote('sent_at')} < %s)"
    )
    statuses = (Delivery.Status.ACCEPTED, Delivery.Status.FAILED)
    columns, parameters = [_pending_count()], [user.pk, Delivery.Status.PENDING.value]
    for index in range(len(day_list)):
        for status in statuses:
            columns.append(count)
            parameters += [user.pk, status.value, adapt(bounds[index]), adapt(bounds[index + 1])]
    return _delivery_window_of(columns, parameters, day_list)


def dashboard_figures(*, user: User, now: datetime) -> DashboardFigures:
    """Every counter of the dashboard and its chart, in three aggregate queries at any volume
    (one more in a zone whose midnights are no quarter-hours: see `delivery_window`)."""
    owned = (
        User.objects.filter(pk=user.pk)
        .values(
            clients=_count_per_owner(Client.objects.all()),
            messages=_count_per_owner(Message.objects.all()),
        )
        .get()
    )
    mailings = Mailing.objects.filter(owner=user).aggregate(
        total=Count("pk"),
        running=Count("pk", filter=Q(status=Mailing.Status.RUNNING)),
        finished=Count("pk", filter=Q(status=Mailing.Status.FINISHED)),
    )
    window = delivery_window(user=user, now=now)
    attempts = window.runs
    if attempts is None:
        # Per mailing, a range of the (mailing, attempted_at) index.
        attempts = dict(
            Attempt.objects.filter(mailing__owner=user, attempted_at__gte=window.start)
            .order_by()
            .values_list("status")
            .annotate(count=Count("pk"))
        )
    return DashboardFigures(
        mailings_total=mailings["total"],
        mailings_running=mailings["running"],
        mailings_finished=mailings["finished"],
        clients=owned["clients"],
        messages=owned["messages"],
        deliveries_accepted=window.accepted,
        deliveries_failed=window.failed,
        deliveries_pending=window.pending,
        attempts_success=attempts.get(Attempt.Status.SUCCESS, 0),
        attempts_failure=attempts.get(Attempt.Status.FAILURE, 0),
        attempts_running=attempts.get(Attempt.Status.RUNNING, 0),
        days=window.days,
    )


def _per_owner(queryset: QuerySet, aggregate, owner: str = "owner") -> Subquery:
    """One aggregate of `queryset` over the rows of the outer query's user."""
    return Subquery(
        queryset.filter(**{owner: OuterRef("pk")})
        .order_by()
        .values(owner)
        .annotate(value=aggregate)
        .values("value")
    )


def dashboard_version(*, user: User) -> tuple | None:
    """What changes whenever anything the dashboard's live parts show changes: one query.

    Each part is an index lookup or a short range (the user's mailings, their runs in progress),
    never a count of the history: a run opened (the newest run), a run's progress or end (the
    counters of the runs in progress, which the ledger keeps), a letter sent or failed (the
    latest `sent_at`), and mailings, clients and messages added, edited, scheduled or removed.
    The poll compares it (as an ETag) instead of rendering the page again. The values come as
    the database gives them (no conversion): they are compared, not shown.
    """
    sql, params = _dashboard_version_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk if p == _ANY_USER else p for p in params])
        return cursor.fetchone()


# The key the version's statement is built for, replaced by the user's at each poll: no user
# has it (keys are positive).
_ANY_USER = -1_000_000_007


@cache
def _dashboard_version_sql(vendor: str) -> tuple[str, tuple]:
    """The version's statement, built once per process: building it with the ORM (some twenty
    subqueries) cost more than ten times running it, and the unchanged poll is nothing else."""
    return _dashboard_version_query(user_pk=_ANY_USER).query.sql_with_params()


def _dashboard_version_query(*, user_pk: int) -> QuerySet:
    mailings = Mailing.objects.all()
    running = Attempt.objects.filter(status=Attempt.Status.RUNNING)
    return User.objects.filter(pk=user_pk).values_list(
        _count_per_owner(mailings),
        _per_owner(mailings, Max("updated_at")),
        _per_owner(mailings, Count("pk", filter=Q(status=Mailing.Status.RUNNING))),
        _per_owner(mailings, Count("pk", filter=Q(status=Mailing.Status.FINISHED))),
        _per_owner(mailings, Min("next_run_at")),
        _per_owner(mailings, Max("next_run_at")),
        _count_per_owner(Client.objects.all()),
        _count_per_owner(Message.objects.all()),
        # Per mailing, the newest run is the end of its (mailing, attempted_at) index.
        _per_owner(
            mailings.annotate(
                latest_run=Subquery(
                    Attempt.objects.filter(mailing=OuterRef("pk"))
                    .order_by("-attempted_at")
                    .values("attempted_at")[:1]
                )
            ),
            Max("latest_run"),
        ),
        _per_owner(running, Count("*"), owner="mailing__owner"),
        *(
            _per_owner(running, Sum(counter), owner="mailing__owner")
            for counter in ("accepted_count", "failed_count", "pending_count")
        ),
        _per_owner(running, Max("resume_at"), owner="mailing__owner"),
        # The end of the (owner, sent_at) index: MAX() grouped would read the whole range.
        Subquery(
            Delivery.objects.filter(owner=OuterRef("pk"), sent_at__isnull=False)
            .order_by("-sent_at")
            .values("sent_at")[:1]
        ),
    )


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
    """One run of a mailing with its ledger counted; `skipped` recipients (unsubscribed or
    bounced) were neither sent to nor failed."""

    attempt: Attempt
    accepted: int
    failed: int
    pending: int
    skipped: int


@dataclass(frozen=True)
class MailingReport:
    """What happened to one mailing: its runs, what failed and why."""

    runs: list[MailingRun]
    run_count: int
    accepted: int
    failed: int
    pending: int
    skipped: int
    top_failure_replies: list[tuple[str, int]]
    failed_deliveries: list[Delivery]

    @property
    def open_run(self) -> Attempt | None:
        """The run still open (being sent, or waiting to resume), if any: a mailing has at
        most one, and it is among the latest runs. No query."""
        return next(
            (run.attempt for run in self.runs if run.attempt.status == Attempt.Status.RUNNING),
            None,
        )


def mailing_report(
    *, mailing: Mailing, run_limit: int = 20, reply_limit: int = 5, failure_limit: int = 50
) -> MailingReport:
    """The latest runs of a mailing counted from the ledger, its totals and its failures.

    Skipped recipients are counted apart: they come out of the same grouped counts. Six
    queries whatever the volume; long lists stop at the limits (the CSV has everything).
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
                skipped=per_run.get((attempt.pk, Delivery.Status.SKIPPED), 0),
            )
            for attempt in latest
        ],
        run_count=attempts.count(),
        accepted=totals.get(Delivery.Status.ACCEPTED, 0),
        failed=totals.get(Delivery.Status.FAILED, 0),
        pending=totals.get(Delivery.Status.PENDING, 0),
        skipped=totals.get(Delivery.Status.SKIPPED, 0),
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


@dataclass(frozen=True)
class Liveness:
    """Whether a page of mailings can change by itself: `live` while a run of one is due or
    open (poll now), else `changes_at`, the next moment one becomes due (None: nothing will)."""

    live: bool
    changes_at: datetime | None

    def refresh_in(self, *, now: datetime) -> int | None:
        """Whole seconds until `changes_at`, at most a day (a page open longer polls again)."""
        if self.changes_at is None:
            return None
        return max(1, min(int((self.changes_at - now).total_seconds()) + 1, 86_400))


def mailings_liveness(*, mailings: QuerySet[Mailing], now: datetime) -> Liveness:
    """Whether any of `mailings` has a run due (its next run has come, nothing holds it
    back), open and being sent, or waiting to resume at a moment that has come; else the next
    moment one of them is due or resumes. Two queries."""
    free = mailings.filter(paused_at__isnull=True, disabled_at__isnull=True).order_by()
    running = Q(attempts__status=Attempt.Status.RUNNING)
    live = free.filter(
        Q(next_run_at__lte=now)
        | running & (Q(attempts__resume_at__isnull=True) | Q(attempts__resume_at__lte=now))
    ).exists()
    if live:
        return Liveness(live=True, changes_at=None)
    soonest = free.aggregate(
        due=models.Min("next_run_at", filter=Q(next_run_at__gt=now)),
        resumes=models.Min("attempts__resume_at", filter=running),
    )
    upcoming = [moment for moment in soonest.values() if moment is not None]
    return Liveness(live=False, changes_at=min(upcoming) if upcoming else None)
