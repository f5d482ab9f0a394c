"""Running `manage.py send_mailings` (and workers) as separate processes against the test
database."""

import os
import subprocess
import sys
import time
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def sender_environment(server, **variables: str) -> dict[str, str]:
    """The environment of a child sender: the test database, the loopback server, fast leases."""
    return (
        os.environ
        | child_database_environment()
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


# The processes the running test started. One that fails before it waits for them must not
# leave them behind, sending from the next tests' database (see `children_stop`).
_children: list[subprocess.Popen] = []


def start_child(arguments: list[str], *, env: dict[str, str]) -> subprocess.Popen:
    """Start `manage.py` with `arguments` (output and errors in `stdout`), to be stopped with
    the test."""
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *arguments],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _children.append(process)
    return process


def children_stop() -> None:
    """Kill what the test started and left running (only a failed test does)."""
    while _children:
        process = _children.pop()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=180)


def start_sender(*arguments: str, env: dict[str, str]) -> subprocess.Popen:
    return start_child(["send_mailings", *arguments], env=env)


def child_database_environment() -> dict[str, str]:
    """The environment that points a child process at the test database."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return {"DATABASE_URL": f"sqlite:///{database['NAME']}"}
    credentials = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    host = database["HOST"] or "localhost"
    port = f":{database['PORT']}" if database["PORT"] else ""
    return {
        "DATABASE_URL": f"postgres://{credentials}@{host}{port}/{quote(database['NAME'], safe='')}"
    }


def wait_for(condition, *, timeout: float, step: float = 0.02) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)
