"""Run `send_mailings` every minute, for machines without cron (Windows, containers)."""

import logging
import signal
import threading
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from core.services.sending.shutdown import shutdown_requested

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run `manage.py send_mailings` at a fixed interval until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between runs")
        parser.add_argument("--once", action="store_true", help="run a single tick and exit")

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(f"Scheduler: send_mailings every {interval:g} s")
        try:
            # A signal during a tick reaches the sender first (it stops cleanly), then here.
            while not stop.is_set() and not shutdown_requested():
                started = time.monotonic()
                self.tick()
                if once:
                    return
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass

    def tick(self) -> None:
        """One `send_mailings`, in this process; whatever goes wrong in it, the loop goes on."""
        close_old_connections()  # the database may have restarted since the last tick
        try:
            call_command("send_mailings", stdout=self.stdout, stderr=self.stderr)
        except Exception as error:
            logger.exception("Scheduler: send_mailings failed")
            self.stderr.write(f"Scheduler: send_mailings failed: {error}")
        finally:
            close_old_connections()
