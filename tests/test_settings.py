"""A broken environment stops the service with one clear line, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

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
