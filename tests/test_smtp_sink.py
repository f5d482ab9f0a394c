"""`manage.py smtp_sink`: the local sink of `make run` keeps every message as a `.eml` file."""

import os
import signal
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage

from django.conf import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_sink_keeps_each_message_it_receives_as_an_eml_file(tmp_path):
    port = free_port()
    arguments = ["--port", str(port), "--directory", str(tmp_path)]
    sink = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "smtp_sink", *arguments],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mailing_service.settings_test"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"SMTP sink on 127.0.0.1:{port}" in sink.stdout.readline()
        letter = EmailMessage()
        letter["From"] = "shop@example.com"
        letter["To"] = "ann@example.com"
        letter["Subject"] = "Hi"
        letter.set_content("Здравствуйте!")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(letter)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)

    (kept,) = tmp_path.iterdir()
    assert kept.suffix == ".eml"
    content = kept.read_text(encoding="utf-8")
    assert "X-Envelope-From: shop@example.com" in content
    assert "X-Envelope-To: ann@example.com" in content
    assert "Subject: Hi" in content
