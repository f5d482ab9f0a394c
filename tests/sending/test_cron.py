"""`send_mailings` every minute: the django-crontab entry, and the loop for hosts without cron."""

import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django_crontab.crontab import Crontab

from core.models import Attempt
from mailing_service.cron import cron_command_prefix
from mailing_service.settings import env as settings_environment
from tests.factories import make_clients, make_mailing
from tests.sending.processes import sender_environment
from tests.smtp_servers import SmtpSink

LOG = django_settings.VAR_DIR / "log" / "send_mailings.log"
MANAGE = str(django_settings.BASE_DIR / "manage.py")


def crontab_line() -> str:
    """The line `manage.py crontab add` writes, without touching the real crontab."""
    crontab = Crontab(verbosity=0)
    crontab.crontab_lines = []
    crontab.add_jobs()
    (line,) = crontab.crontab_lines
    return line


def test_the_cron_job_runs_send_mailings_every_minute_into_a_log():
    (job,) = django_settings.CRONJOBS

    assert job[0] == "* * * * *"
    assert (job[1], job[2]) == ("django.core.management.call_command", ["send_mailings"])
    line = crontab_line()
    assert line.startswith("* * * * * cd ")
    assert f"{django_settings.CRONTAB_DJANGO_MANAGE_PATH} crontab run " in line
    assert f">> {LOG} 2>&1" in line


def test_the_cron_line_carries_the_environment_the_job_needs():
    prefix = cron_command_prefix(
        environ={"DATABASE_URL": "postgres://u:p w@db/mail", "HOME": "/root"},
        names=settings_environment.names,
        base_dir=django_settings.BASE_DIR,
    )

    assert prefix == (
        f"cd {django_settings.BASE_DIR} && LANG=C.UTF-8 DATABASE_URL='postgres://u:p w@db/mail'"
    )


@pytest.mark.django_db(transaction=True)
def test_the_cron_line_sends_due_mailings_from_the_bare_environment_cron_gives(user, settings):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    with SmtpSink() as sink:
        # The environment `crontab add` would see, with the test database and the sink.
        settings.CRONTAB_COMMAND_PREFIX = cron_command_prefix(
            environ=sender_environment(sink),
            names=settings_environment.names,
            base_dir=settings.BASE_DIR,
        )
        command = re.match(r"^(\S+\s+){5}(?P<command>.*?)\s+#", crontab_line())["command"]
        LOG.parent.mkdir(parents=True, exist_ok=True)
        log_size = LOG.stat().st_size if LOG.exists() else 0

        # Cron's environment: a short PATH, a home, nothing else.
        subprocess.run(
            ["/bin/sh", "-c", command],
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "SHELL": "/bin/sh"},
            cwd="/",
            check=True,
            timeout=60,
        )

        assert len(sink.messages) == 2
    attempt = Attempt.objects.get(mailing=mailing)
    with LOG.open(encoding="utf-8") as log:
        log.seek(log_size)
        assert f"mailing {mailing.pk} attempt {attempt.pk}: success, sent 2" in log.read()


@pytest.mark.django_db(transaction=True)
def test_run_scheduler_once_runs_send_mailings_and_reports_its_lines(user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    with SmtpSink() as sink:
        scheduler = subprocess.run(
            [sys.executable, MANAGE, "run_scheduler", "--once"],
            env=sender_environment(sink),
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert len(sink.messages) == 2
    attempt = Attempt.objects.get(mailing=mailing)
    assert scheduler.returncode == 0, scheduler.stderr
    assert scheduler.stdout.splitlines() == [
        "Scheduler: send_mailings every 60 s",
        f"mailing {mailing.pk} attempt {attempt.pk}: "
        "success, sent 2, failed 0, pending 0, skipped 0",
    ]
    assert scheduler.stderr == ""
