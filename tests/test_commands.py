"""The commands `make run` starts beside the web server: the demo account and the SMTP sink."""

import email
import email.policy
import os
import re
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from core.models import User
from tests.factories import BODY, SUBJECT
from tests.ports import reserved_port

START_TIMEOUT = 30


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_demo_user_creates_the_account_once_and_shows_its_password_once(client):
    first = run("ensure_demo_user")
    second = run("ensure_demo_user")

    match = re.fullmatch(
        r"Demo account created: demo@example\.com / (\S+) \(shown only once\)\n", first
    )
    assert match, first
    assert second == "Demo account: demo@example.com (password shown when it was created)\n"
    assert User.objects.filter(email="demo@example.com").count() == 1
    # The password printed the first time still signs in after the second run.
    response = client.post(reverse("login"), {"username": "demo@example.com", "password": match[1]})
    assert response.status_code == 302, "the demo account signs in"


def test_smtp_sink_keeps_each_message_as_an_eml_file(tmp_path):
    with reserved_port() as port:
        sink = subprocess.Popen(
            [
                *(sys.executable, str(settings.BASE_DIR / "manage.py"), "smtp_sink"),
                *("--port", str(port), "--directory", str(tmp_path)),
            ],
            env=os.environ
            | {"DJANGO_SETTINGS_MODULE": "mailing_service.settings_test"}
            | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # It says where it listens once it does.
        said = sink.stdout.readline()
    try:
        assert said == f"SMTP sink on 127.0.0.1:{port}, keeping messages in {tmp_path}\n"
        letter = EmailMessage()
        letter["Subject"] = SUBJECT
        letter.set_content(BODY)
        with smtplib.SMTP("127.0.0.1", port, timeout=START_TIMEOUT) as client:
            client.send_message(letter, "shop@example.com", ["anna@example.com"])
    finally:
        sink.send_signal(signal.SIGTERM)
        output = sink.communicate(timeout=START_TIMEOUT)[0]

    assert sink.returncode == 0, output
    # The file was complete before the server said 250.
    (saved,) = tmp_path.iterdir()
    assert saved.suffix == ".eml"
    message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert message["X-Envelope-From"] == "shop@example.com"
    assert message["X-Envelope-To"] == "anna@example.com"
    assert message["Subject"] == SUBJECT
    assert message.get_content().replace("\r\n", "\n") == BODY
