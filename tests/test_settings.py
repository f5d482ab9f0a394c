"""The environment: a broken one stops the service with one clear line, never a traceback;
the variables the settings read are the ones documented and the ones the cron job carries."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from mailing_service.settings import env as settings_environment

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def production_environment(**environment: str) -> dict[str, str]:
    """This process's environment less what only tests may set, plus `environment`."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {**base, "DJANGO_SETTINGS_MODULE": "mailing_service.settings", **environment}


def run_check(**environment: str) -> subprocess.CompletedProcess:
    env = production_environment(**environment)
    return subprocess.run(
        [sys.executable, str(MANAGE), "check"], env=env, capture_output=True, text=True, timeout=60
    )


def test_missing_secret_key_with_debug_off_fails_with_one_line():
    result = run_check(DEBUG="false", SECRET_KEY="", ALLOWED_HOSTS="example.com")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SECRET_KEY must be set when DEBUG is off (see .env.example)."
    ]


def test_weak_secret_key_with_debug_off_fails_with_one_line():
    result = run_check(DEBUG="false", SECRET_KEY="django-insecure-abc", ALLOWED_HOSTS="example.com")

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "SECRET_KEY is too weak" in result.stderr


def test_missing_allowed_hosts_with_debug_off_fails_with_one_line():
    result = run_check(DEBUG="false", SECRET_KEY="k" * 50, ALLOWED_HOSTS="")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: ALLOWED_HOSTS must be set when DEBUG is off "
        "(comma-separated host names)."
    ]


def test_bad_database_url_fails_with_one_line():
    result = run_check(DEBUG="true", DATABASE_URL="mongodb://localhost/mail")

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Configuration error: DATABASE_URL is not valid")


def test_malformed_boolean_fails_with_one_line_naming_the_variable():
    result = run_check(DEBUG="true", EMAIL_PORT="twenty-five")

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "EMAIL_PORT is not valid" in lines[0]


def test_production_settings_pass_the_deploy_check_but_for_https_switches():
    result = subprocess.run(
        [sys.executable, str(MANAGE), "check", "--deploy", "--fail-level", "WARNING"],
        env=production_environment(
            DEBUG="false",
            SECRET_KEY="s3cr3t-" + "q" * 50,
            ALLOWED_HOSTS="mail.example.com",
            SECURE_SSL_REDIRECT="true",
            SECURE_HSTS_SECONDS="31536000",
            # Names receiving mail servers accept (see core/checks.py).
            SITE_URL="https://mail.example.com",
            DEFAULT_FROM_EMAIL="Mailing <noreply@mail.example.com>",
            EMAIL_LOCAL_HOSTNAME="mail.example.com",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


# --- One list of variables: the settings' reads, `.env.example` and the cron job agree.

ENV_EXAMPLE = Path(settings.BASE_DIR) / ".env.example"


def documented_variables() -> dict[str, str]:
    """`NAME=value` lines of `.env.example`, commented out or not: each variable and its example."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    found = (re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=(.*)", line) for line in lines)
    return {match[1]: match[2] for match in found if match}


def settings_in_subprocess(
    code: str, environment: dict[str, str], *, before: str = ""
) -> list[str]:
    """Import the production settings as `s` in a bare process, then run `code`; its output."""
    result = subprocess.run(
        [sys.executable, "-c", f"{before}import mailing_service.settings as s\n{code}"],
        env={"PATH": os.environ["PATH"], **environment},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_env_example_documents_exactly_the_variables_the_settings_read():
    assert sorted(documented_variables()) == sorted(settings_environment.names)


def test_the_cron_job_carries_no_variable_the_settings_read(tmp_path):
    dotenv = tmp_path / "env"
    dotenv.write_text("EMAIL_HOST_PASSWORD=dotenv-pw\n", encoding="utf-8")
    # Every documented variable set in the environment `crontab add` runs in, as a container
    # or a systemd unit would set them.
    environment = {**documented_variables(), "ENV_FILE": str(dotenv)}

    (prefix,) = settings_in_subprocess("print(s.CRONTAB_COMMAND_PREFIX)", environment)

    _cd, _project, _and, *assignments = shlex.split(prefix)
    assert assignments == ["LANG=C.UTF-8", f"ENV_FILE={dotenv}"]


def test_the_settings_read_the_file_env_file_names_under_the_environment(tmp_path):
    dotenv = tmp_path / "env"
    dotenv.write_text("EMAIL_HOST_PASSWORD=dotenv-pw\nEMAIL_HOST=smtp.dotenv\n", encoding="utf-8")
    code = "o = s.MAILERS['default']['OPTIONS']\nprint(o['password'])\nprint(o['host'])"

    password, host = settings_in_subprocess(
        code, {"DEBUG": "true", "ENV_FILE": str(dotenv), "EMAIL_HOST": "smtp.environment"}
    )

    assert (password, host) == ("dotenv-pw", "smtp.environment")


def test_an_env_file_that_does_not_exist_is_a_settings_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": os.environ["PATH"], "DEBUG": "true", "ENV_FILE": str(tmp_path / "none")},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert f"ENV_FILE names {tmp_path / 'none'}" in result.stderr


# --- The sending engine speaks SMTP itself: another mail backend is refused, not ignored.


# (`db`: the full check asks the tasks backend whether the database has JSON fields.)
def test_a_mailer_backend_other_than_smtp_fails_the_system_check(settings, db):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

    with pytest.raises(SystemCheckError, match=r"core\.E001.*console\.EmailBackend"):
        call_command("check")


def test_the_smtp_mailer_backend_passes_the_system_check(settings, db):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 1025},
        }
    }

    call_command("check")
