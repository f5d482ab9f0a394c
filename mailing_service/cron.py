"""What a cron job needs to run `manage.py` the way this process runs it.

Cron starts jobs in the home directory with little more than HOME, SHELL and a short PATH.
Settings read `.env` by absolute path, but variables set in the environment (a container, a
systemd unit, a shell profile) would be lost, so the job line carries those it will need.
"""

import shlex
from collections.abc import Mapping
from pathlib import Path

# The variables the settings read (see .env.example), plus what Python and Django need.
CRON_ENVIRONMENT = (
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "TIME_ZONE",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
    "EMAIL_CONCURRENCY",
    "EMAIL_RETRIES",
    "EMAIL_RETRY_DELAY",
    "SENDING_LEASE_SECONDS",
    "DEFAULT_FROM_EMAIL",
    "LOG_LEVEL",
)


def cron_command_prefix(*, environ: Mapping[str, str], base_dir: Path) -> str:
    """`cd <project> && VAR=value ...`: put before the job's command in the crontab line."""
    assignments = [
        f"{name}={shlex.quote(environ[name])}" for name in CRON_ENVIRONMENT if name in environ
    ]
    # A UTF-8 locale, or Python would print Cyrillic mailing names to the log as errors.
    assignments.insert(0, "LANG=C.UTF-8")
    return " ".join([f"cd {shlex.quote(str(base_dir))} &&", *assignments])
