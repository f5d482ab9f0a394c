"""A local SMTP sink that keeps every message it receives as a file, for runs with no server."""

import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class EmlDirectoryHandler:
    """Writes each received message to `<directory>/<time>-<id>.eml`, envelope in the headers.

    One `.eml` file per message in a flat directory, not a Maildir: any mail client opens one
    with a double click, and `ls` lists them in the order they came.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server, session, envelope) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        header = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(header + envelope.original_content)
        temporary.rename(path)  # a reader never sees half a message
        return "250 Message accepted for delivery"


class Command(BaseCommand):
    help = "Run a local SMTP sink that stores every message it receives under var/mail/."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)
        parser.add_argument("--directory", type=Path, default=settings.VAR_DIR / "mail")

    def handle(self, *args, host: str, port: int, directory: Path, **options) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        controller = Controller(EmlDirectoryHandler(directory), hostname=host, port=port)
        try:
            controller.start()
        except (OSError, RuntimeError) as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error}") from None
        self.stdout.write(f"SMTP sink on {host}:{port}, keeping messages in {directory}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
