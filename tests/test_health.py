"""/healthz for load balancers, /metrics for Prometheus, and log lines as JSON."""

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from core.log_format import JsonLinesFormatter
from core.services.health import SCHEDULER, WORKER, heartbeat_beat
from tests.factories import ACCEPTED, FAILED, PENDING, make_mailing, record_run
from tests.sending.processes import child_database_environment, wait_for
from tests.tasks import start_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous() -> HttpClient:
    return HttpClient()


def test_healthz_is_200_when_the_database_answers_and_both_heartbeats_are_recent(anonymous):
    heartbeat_beat(SCHEDULER)
    heartbeat_beat(WORKER)

    response = anonymous.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "scheduler": True,
        "worker": True,
    }


def test_healthz_is_503_naming_a_scheduler_that_stopped_ticking(anonymous, settings):
    settings.HEALTH_SCHEDULER_MAX_AGE = 120
    heartbeat_beat(SCHEDULER, now=timezone.now() - timedelta(seconds=300))
    heartbeat_beat(WORKER)

    response = anonymous.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["scheduler"]["ok"] is False
    assert "at most 120 s" in checks["scheduler"]["detail"]
    assert checks["worker"]["ok"] is True


def test_healthz_is_503_for_a_worker_never_seen_unless_that_check_is_off(anonymous, settings):
    heartbeat_beat(SCHEDULER)
    response = anonymous.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {"ok": False, "detail": "never seen"}

    settings.HEALTH_WORKER_MAX_AGE = 0
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert "worker" not in response.json()["checks"]


def test_a_scheduler_tick_of_send_mailings_records_its_heartbeat(anonymous):
    assert anonymous.get("/healthz").json()["checks"]["scheduler"]["ok"] is False

    call_command("send_mailings", stdout=io.StringIO())

    assert anonymous.get("/healthz").json()["checks"]["scheduler"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_a_running_task_worker_records_its_heartbeat_while_idle(anonymous):
    heartbeat_beat(SCHEDULER)
    assert anonymous.get("/healthz").json()["checks"]["worker"]["ok"] is False

    worker = start_worker(env=os.environ | child_database_environment(), command="run_worker")
    try:
        wait_for(lambda: anonymous.get("/healthz").status_code == 200, timeout=180)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=180)
    assert worker.returncode == 0, output


def test_healthz_is_503_without_secrets_when_the_database_is_unreachable():
    # A process of its own whose database is a PostgreSQL server that is not there.
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(r.status_code); print(r.content.decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test",
            "DATABASE_URL": "postgres://secret_user:secret_password@127.0.0.1:9/nowhere",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    status, body = result.stdout.splitlines()[:2]
    assert status == "503", result.stderr
    assert json.loads(body)["checks"] == {"database": {"ok": False, "detail": "OperationalError"}}
    assert "secret" not in body


# --- /metrics


def test_metrics_are_off_while_no_token_is_set(anonymous, settings):
    settings.METRICS_TOKEN = ""

    assert anonymous.get("/metrics").status_code == 404
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_refuse_a_request_without_the_token(anonymous, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        response = anonymous.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert b"mailing_" not in response.content


def test_metrics_count_letters_runs_and_heartbeats_for_the_token_bearer(user, anonymous, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    mailing = make_mailing(owner=user)
    record_run(
        mailing,
        {
            "a@example.com": (ACCEPTED, "250 OK"),
            "b@example.com": (FAILED, "550 No"),
            "c@example.com": (PENDING, ""),
        },
        at=timezone.now(),
    )
    heartbeat_beat(SCHEDULER)

    response = anonymous.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'mailing_letters{status="accepted"} 1.0' in text
    assert 'mailing_letters{status="failed"} 1.0' in text
    assert 'mailing_letters{status="pending"} 1.0' in text
    assert "mailing_runs_open 1.0" in text
    assert 'mailing_heartbeat_age_seconds{name="scheduler"}' in text


# --- JSON log lines


def test_json_log_lines_carry_time_level_logger_message_extras_and_the_traceback():
    formatter = JsonLinesFormatter()
    record = logging.LogRecord(
        "core.sending", logging.WARNING, __file__, 1, "run %s: %s", (7, "стоп"), None
    )
    record.attempt_id = 7
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "core.sending", logging.ERROR, __file__, 2, "failed", (), sys.exc_info()
        )

    line = formatter.format(record)
    error_line = formatter.format(failed)

    assert "\n" not in line and "\n" not in error_line
    fields = json.loads(line)
    assert fields["level"] == "WARNING"
    assert fields["logger"] == "core.sending"
    assert fields["message"] == "run 7: стоп"
    assert fields["attempt_id"] == 7
    assert fields["time"].endswith("+00:00")
    assert "ValueError: boom" in json.loads(error_line)["exception"]


def test_log_format_json_makes_the_services_log_lines_json():
    code = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('core.sending').info('run %s done', 3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test",
            "LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    (line,) = result.stderr.splitlines()
    assert json.loads(line) | {"time": None} == {
        "time": None,
        "level": "INFO",
        "logger": "core.sending",
        "message": "run 3 done",
    }
