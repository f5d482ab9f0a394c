"""`send_mailings` every minute: the django-crontab entry, and the loop for hosts without cron."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django_crontab.crontab import Crontab

from core.models import Attempt
from mailing_service.cron import cron_command_prefix
from tests.factories import make_clients, make_mailing
from tests.sending.processes import child_database_environment, sender_environment
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


# Values that must never reach the crontab: cron runs the line through `sh -c`, where every
# local user reads it in `ps`.
SECRETS = {
    "SECRET_KEY": "environment-secret-key-" + "k" * 40,
    "EMAIL_HOST_PASSWORD": "environment-smtp-password",
    "DATABASE_URL": "postgres://mailing:environment-db-password@db.invalid/mailing",
}


def test_the_cron_line_carries_where_the_settings_are_and_no_value_of_them():
    prefix = cron_command_prefix(
        environ={
            **SECRETS,
            "HOME": "/root",
            "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test",
            "ENV_FILE": "/etc/mailing service/env",
        },
        base_dir=django_settings.BASE_DIR,
    )

    assert prefix == (
        f"cd {django_settings.BASE_DIR} && LANG=C.UTF-8 "
        "DJANGO_SETTINGS_MODULE=mailing_service.settings_test ENV_FILE='/etc/mailing service/env'"
    )


def test_the_default_settings_module_is_not_carried():
    prefix = cron_command_prefix(
        environ={"DJANGO_SETTINGS_MODULE": "mailing_service.settings"},
        base_dir=django_settings.BASE_DIR,
    )

    assert prefix == f"cd {django_settings.BASE_DIR} && LANG=C.UTF-8"


@pytest.mark.django_db(transaction=True)
def test_the_cron_line_holds_no_secret_and_sends_with_the_settings_of_the_env_file(
    user, settings, tmp_path
):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    with SmtpSink() as sink:
        # The sink and the test database are only in the file; the environment `crontab add`
        # runs in has other values of the same secrets.
        in_file = {
            "SECRET_KEY": "dotenv-secret-key-" + "d" * 40,
            "EMAIL_HOST_PASSWORD": "dotenv-smtp-password",
            **child_database_environment(),
            "EMAIL_HOST": sink.host,
            "EMAIL_PORT": str(sink.port),
            "EMAIL_TIMEOUT": "5",
        }
        dotenv = tmp_path / "env"
        dotenv.write_text("".join(f"{k}={v}\n" for k, v in in_file.items()), encoding="utf-8")
        settings.CRONTAB_COMMAND_PREFIX = cron_command_prefix(
            environ={
                **os.environ,
                **SECRETS,
                "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test",
                "ENV_FILE": str(dotenv),
            },
            base_dir=settings.BASE_DIR,
        )
        line = crontab_line()
        for name in SECRETS:
            assert SECRETS[name] not in line
            assert in_file[name] not in line
        command = re.match(r"^(\S+\s+){5}(?P<command>.*?)\s+#", line)["command"]
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
