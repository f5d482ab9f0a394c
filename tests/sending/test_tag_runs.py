"""Mailings to tags: a run goes to the chosen clients and every client carrying a chosen tag
when it opens, each once; real SMTP sink on loopback, the ledger says who got the run."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, Client
from core.services import suppression
from tests.factories import make_client, make_clients, make_mailing, make_tag

pytestmark = pytest.mark.django_db


def send_mailings() -> str:
    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def test_a_client_tagged_after_the_mailing_was_saved_gets_the_next_run(sink, user, user_client):
    chosen, tagged_too, suppressed = make_clients(owner=user, count=3)
    vip = make_tag(owner=user, name="VIP", clients=[tagged_too, chosen, suppressed])
    suppression.client_unsubscribe(
        client=suppressed, source=Client.UnsubscribeSource.LINK, now=timezone.now()
    )
    mailing = make_mailing(owner=user, clients=[chosen])
    mailing.tags.add(vip)

    # After the mailing was saved: a new client, tagged in the client form ("vip" is "VIP").
    response = user_client.post(
        reverse("client-create"),
        {"email": "new@example.com", "full_name": "Новый Клиент", "tags": "vip, Москва"},
    )
    assert response.status_code == 302
    page = user_client.get(reverse("mailing-detail", args=[mailing.pk]))
    send_mailings()

    # chosen and tagged: one letter; the suppressed one skipped; the new client included.
    assert sorted(m.recipients for m in sink.messages) == [
        ("client0@example.com",),
        ("client1@example.com",),
        ("new@example.com",),
    ]
    attempt = Attempt.objects.get(mailing=mailing)
    ledger = dict(attempt.deliveries.values_list("email", "status"))
    assert ledger == {
        "client0@example.com": "accepted",
        "client1@example.com": "accepted",
        "client2@example.com": "skipped",
        "new@example.com": "accepted",
    }
    assert (attempt.accepted_count, attempt.skipped_count) == (3, 1)
    assert page.context["recipient_count"] == 4


def test_another_owners_client_with_a_tag_of_the_same_name_gets_nothing(sink, user, other_user):
    mine = make_client(owner=user, email="mine@example.com")
    theirs = make_client(owner=other_user, email="theirs@example.com")
    make_tag(owner=other_user, name="VIP", clients=[theirs])
    mailing = make_mailing(owner=user)
    mailing.tags.add(make_tag(owner=user, name="VIP", clients=[mine]))

    send_mailings()

    assert [m.recipients for m in sink.messages] == [("mine@example.com",)]
