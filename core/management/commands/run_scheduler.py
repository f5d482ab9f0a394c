"""Run `send_mailings` every minute, for machines without cron (Windows, containers)."""

import signal
import subprocess
import threading
import time

from django.core.management.base import BaseCommand

from core.services.sending import send_mailings_command


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
            while not stop.is_set():
                started = time.monotonic()
                self.tick()
                if once:
                    return
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass

    def tick(self) -> None:
        """One run in a child process, so a crash or a leak in a run never ends the loop."""
        command = send_mailings_command()
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as error:
            self.stderr.write(f"Scheduler: cannot start send_mailings: {error}")
            return
        for line in (result.stdout + result.stderr).splitlines():
            self.stdout.write(f"  {line}")
        if result.returncode:
            self.stderr.write(f"Scheduler: send_mailings exited with {result.returncode}")
