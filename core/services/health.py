"""Is the service alive and what is it doing: /healthz and /metrics read from here.

Background processes call `heartbeat_beat(name)` as they work; `health_checks` compares each
heartbeat with its threshold (HEALTH_SCHEDULER_MAX_AGE, HEALTH_WORKER_MAX_AGE) for /healthz.
`metrics_exposition` gives Prometheus the ledger, the runs, the task queue and the heartbeats.
"""

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from core.models import Attempt, Delivery, Heartbeat

SCHEDULER = "scheduler"
WORKER = "worker"


def heartbeat_beat(name: str, *, now: datetime | None = None) -> None:
    """Record that the process called `name` is alive now (one row per name, overwritten)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": now or timezone.now()})


@dataclass(frozen=True)
class Check:
    """One check of /healthz: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str


def _heartbeat_check(name: str, *, beats: dict[str, datetime], max_age: int, now) -> Check:
    at = beats.get(name)
    if at is None:
        return Check(name, False, "never seen")
    age = (now - at).total_seconds()
    return Check(name, age <= max_age, f"last seen {age:.0f} s ago (at most {max_age} s)")


def health_checks(*, now: datetime) -> list[Check]:
    """The database answers, and every watched heartbeat is recent enough. Two queries."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beats = dict(Heartbeat.objects.values_list("name", "at"))
    except DatabaseError as error:
        # The class of the error only: its text may carry a host name or a user.
        return [Check("database", False, type(error).__name__)]
    checks = [Check("database", True, "reachable")]
    for name, max_age in (
        (SCHEDULER, settings.HEALTH_SCHEDULER_MAX_AGE),
        (WORKER, settings.HEALTH_WORKER_MAX_AGE),
    ):
        if max_age > 0:
            checks.append(_heartbeat_check(name, beats=beats, max_age=max_age, now=now))
    return checks


def _queue_depth() -> int | None:
    """Tasks waiting for a worker (django-tasks-db's READY results); None without that backend
    installed or before its tables exist."""
    if not apps.is_installed("django_tasks_db"):
        return None
    from django_tasks_db.models import DBTaskResult

    try:
        return DBTaskResult.objects.filter(status="READY").count()
    except DatabaseError:
        return None


class ServiceCollector:
    """The service's figures for Prometheus, read from the database at each scrape: ledger lines
    by status, runs open, tasks queued, and the age of each heartbeat. Four queries."""

    def collect(self):
        letters = GaugeMetricFamily(
            "mailing_letters",
            "Letters in the ledger of every run, by status.",
            labels=["status"],
        )
        counted = dict(Delivery.objects.order_by().values_list("status").annotate(count=Count("*")))
        for status in Delivery.Status.values:
            letters.add_metric([status], counted.get(status, 0))
        yield letters
        yield GaugeMetricFamily(
            "mailing_runs_open",
            "Runs in progress: being sent, or waiting to resume their pending recipients.",
            value=Attempt.objects.filter(status=Attempt.Status.RUNNING).count(),
        )
        depth = _queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "mailing_task_queue_depth", "Background tasks waiting for a worker.", value=depth
            )
        ages = GaugeMetricFamily(
            "mailing_heartbeat_age_seconds",
            "Seconds since each background process last showed it was alive.",
            labels=["name"],
        )
        now = timezone.now()
        for name, at in Heartbeat.objects.values_list("name", "at"):
            ages.add_metric([name], (now - at).total_seconds())
        yield ages


def metrics_exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of the service's figures, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
