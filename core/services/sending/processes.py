"""Starting `send_mailings` in a process of its own: detached after a save or "send now",
and from the scheduler loop."""

import logging
import os
import subprocess
import sys
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from environ import Env

logger = logging.getLogger(__name__)

# Processes started by `mailing_start_detached`, so a test (or a shutdown) can wait for them.
detached_processes: list[subprocess.Popen] = []


def send_mailings_command(*arguments: str) -> list[str]:
    """The command line of `manage.py send_mailings` with `arguments`, run by this Python."""
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "send_mailings", *arguments]


def mailing_start_detached(*, mailing_id: int | None = None, attempt_id: int | None = None):
    """Start `send_mailings` in a detached process for a due mailing or an opened attempt.

    Call it from `transaction.on_commit` so the process sees what the request wrote. Nothing
    starts when `SENDING_START_DETACHED` is off (tests switch it on when they wait for it).
    """
    if not settings.SENDING_START_DETACHED:
        return None
    arguments = (
        ["--attempt", str(attempt_id)] if attempt_id else ["--mailing", str(mailing_id), "--if-due"]
    )
    command = send_mailings_command(*arguments)
    # Reap the senders that ended, so a long-running web server keeps no zombies.
    detached_processes[:] = [process for process in detached_processes if process.poll() is None]
    try:
        settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(settings.LOG_DIR / "send_mailings.log", "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=os.environ | child_database_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the web server's Ctrl-C and reloads
            )
    except OSError:
        # The run is in the database already: the next scheduler tick sends it.
        logger.exception("Cannot start a detached sender: %s", command)
        return None
    detached_processes.append(process)
    return process


def child_database_environment() -> dict[str, str]:
    """The environment that points a child process at the database this process uses.

    Usually DATABASE_URL already does; under the test runner the database is another one.
    """
    database = connection.settings_dict
    current_url = os.environ.get("DATABASE_URL")
    if current_url and str(Env.db_url_config(current_url)["NAME"]) == str(database["NAME"]):
        return {"DATABASE_URL": current_url}
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        credentials = quote(database["USER"] or "", safe="")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"], safe="")
        host = database["HOST"] or "localhost"
        port = f":{database['PORT']}" if database["PORT"] else ""
        url = f"postgres://{credentials}@{host}{port}/{quote(database['NAME'], safe='')}"
    return {"DATABASE_URL": url}
