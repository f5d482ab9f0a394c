"""Running `manage.py send_mailings` as separate processes against the test database."""

import os
import subprocess
import sys

from django.conf import settings

from core.services import sending


def sender_environment(server, **variables: str) -> dict[str, str]:
    """The environment of a child sender: the test database, the loopback server, fast leases."""
    return (
        os.environ
        | sending.child_database_environment()
        | {
            "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test",
            "EMAIL_HOST": server.host,
            "EMAIL_PORT": str(server.port),
            "EMAIL_TIMEOUT": "5",
            "EMAIL_CONCURRENCY": "2",
            "LANG": "C.UTF-8",
        }
        | variables
    )


def start_sender(*arguments: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "send_mailings", *arguments],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
