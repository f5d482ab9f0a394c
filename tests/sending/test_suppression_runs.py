"""Who runs leave out: clients who unsubscribed (through the real link) and addresses the
mail server refused for good. Real SMTP servers on loopback; the ledger says why."""

from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from core.models import Attempt, Client, Delivery, Mailing
from core.services import suppression

pytestmark = pytest.mark.django_db

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def send_mailings(*args: str) -> str:
    """`manage.py send_mailings` (cron, or with --mailing ID: send now); what it printed."""
    out = StringIO()
    call_command("send_mailings", *args, stdout=out)
    return out.getvalue()


def send_now(mailing: Mailing) -> str:
    return send_mailings("--mailing", str(mailing.pk))


def latest_ledger(mailing: Mailing) -> dict[str, tuple[str, str]]:
    """email -> (status, reply) of the mailing's latest run."""
    attempt = Attempt.objects.filter(mailing=mailing).order_by("-pk").first()
    return {
        email: (status, reply)
        for email, status, reply in attempt.deliveries.values_list("email", "status", "reply")
    }


def unsubscribe(client: Client, *, one_click: bool) -> None:
    """What the recipient (or their mailbox provider) does with the link of a letter."""
    path = urlsplit(suppression.unsubscribe_url(client_id=client.pk)).path
    visitor = HttpClient(enforce_csrf_checks=True)
    if one_click:
        response = visitor.post(
            path, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded"
        )
    else:
        response = visitor.post(path)  # the button of the page
    assert response.status_code == 200


def client(email: str) -> Client:
    return Client.objects.get(email=email)


def back_off_passes() -> None:
    Attempt.objects.filter(status="running", resume_at__isnull=False).update(
        resume_at=timezone.now()
    )


# --- Unsubscribed clients ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one_click", "reason"),
    [(True, "Unsubscribed (one-click)"), (False, "Unsubscribed (link)")],
)
def test_a_client_who_unsubscribed_is_skipped_by_the_next_run_and_the_others_go(
    sink, make_mailing, user, one_click, reason
):
    mailing = make_mailing(user, count=3)
    unsubscribe(client("client1@example.com"), one_click=one_click)

    out = send_mailings()

    assert sorted(m.recipients for m in sink.messages) == [
        ("client0@example.com",),
        ("client2@example.com",),
    ]
    assert latest_ledger(mailing)["client1@example.com"] == ("skipped", reason)
    skipped = Delivery.objects.get(email="client1@example.com")
    assert (skipped.sent_at, skipped.tries) == (None, 0)
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "success"
    assert (attempt.accepted_count, attempt.failed_count, attempt.pending_count) == (2, 0, 0)
    assert attempt.skipped_count == 1
    assert "1 recipient skipped (unsubscribed or bounced)" in attempt.server_response
    assert "success, sent 2, failed 0, pending 0, skipped 1" in out


def test_a_run_whose_every_recipient_is_skipped_sends_nothing_and_succeeds(
    sink, make_mailing, user
):
    mailing = make_mailing(user, count=2)
    for recipient in Client.objects.filter(owner=user):
        unsubscribe(recipient, one_click=True)

    out = send_mailings()

    assert sink.messages == []
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.status == "success"
    assert attempt.server_response == "2 recipients skipped (unsubscribed or bounced)"
    assert (attempt.accepted_count, attempt.pending_count, attempt.skipped_count) == (0, 0, 2)
    assert "success, sent 0, failed 0, pending 0, skipped 2" in out


def test_a_resumed_run_skips_a_client_who_unsubscribed_meanwhile(faulty, make_mailing, user):
    faulty.configure(defer_recipients={"client0@example.com": 10, "client1@example.com": 10})
    mailing = make_mailing(user, count=3)
    send_mailings()
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.is_waiting_to_resume and attempt.pending_count == 2

    unsubscribe(client("client0@example.com"), one_click=True)
    faulty.configure()  # the server recovered
    back_off_passes()
    out = send_mailings()

    assert faulty.messages_for("client0@example.com") == []
    assert len(faulty.messages_for("client1@example.com")) == 1
    assert latest_ledger(mailing)["client0@example.com"] == ("skipped", "Unsubscribed (one-click)")
    attempt.refresh_from_db()
    assert attempt.status == "success"
    assert (attempt.accepted_count, attempt.pending_count, attempt.skipped_count) == (2, 0, 1)
    assert "sent 2, failed 0, pending 0, skipped 1" in out
