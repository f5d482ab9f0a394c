"""With the mail server down, the mailing's page and report say letters wait, and when they
are tried again; the server's words are there on demand, and "Send now" is not a success."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import Attempt
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import refused_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def server_down(settings):
    settings.MAILERS = mailers_for(
        type("Closed", (), {"host": "127.0.0.1", "port": refused_port()})
    )


def test_the_report_says_letters_wait_and_when_with_the_raw_reply_apart(
    user_client, user, server_down
):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))
    call_command("send_mailings", stdout=StringIO())
    run = Attempt.objects.get(mailing=mailing)
    assert run.is_waiting_to_resume and run.pending_count == 3

    report = user_client.get(reverse("mailing-report", args=[mailing.pk])).content.decode()
    page = user_client.get(reverse("mailing-detail", args=[mailing.pk])).content.decode()

    assert "3 letters are waiting to be sent." in report
    assert "The next try is at" in report
    assert 'data-testid="report-no-failures"' not in report
    assert "3 letters are waiting; the next try is at" in page
    # The raw reply is kept, folded away under a summary, not shown as the run's sentence.
    assert "<details><summary>Server reply</summary>" in page
    assert "Connection refused" in page.split("<details><summary>Server reply</summary>")[1]


def test_send_now_is_not_a_green_success_before_anything_was_accepted(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)

    response = htmx_client.post(reverse("mailing-send", args=[mailing.pk]), {"confirmed": "1"})

    toast = json.loads(response.headers["HX-Trigger"])["showMessage"]
    assert toast["level"] != "success"
