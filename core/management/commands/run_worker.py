"""`db_worker` that also tells /healthz it is alive, idle or busy."""

import logging
import threading

from django.db import DatabaseError, connections
from django_tasks_db.management.commands import db_worker

from core.services import health

logger = logging.getLogger(__name__)

# Seconds between two heartbeats: well under HEALTH_WORKER_MAX_AGE's default of 180.
HEARTBEAT_INTERVAL = 30.0


class Command(db_worker.Command):
    help = (
        "Run the task worker (django-tasks-db's db_worker), writing the 'worker' heartbeat "
        "that /healthz checks every 30 s while it runs."
    )

    def handle(self, *args, **options) -> None:
        stop = threading.Event()
        beating = threading.Thread(target=_beat, args=(stop,), name="heartbeat", daemon=True)
        beating.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()


def _beat(stop: threading.Event) -> None:
    """Beat until `stop`, on this thread's own database connection; a failed beat (a locked
    or vanished database) is logged and tried again next time: /healthz will say if it lasts."""
    while True:
        try:
            health.heartbeat_beat(health.WORKER)
        except DatabaseError as error:
            logger.warning("Worker heartbeat not written: %s", error)
        finally:
            connections.close_all()  # this thread's connections only
        if stop.wait(HEARTBEAT_INTERVAL):
            return
