"""A server that offers PIPELINING (RFC 2920) gets MAIL, RCPT and DATA in one write, and its
replies are read in order: a refusal at any of them means what it means without pipelining."""

from collections import Counter

import pytest
from django.core.management import call_command

from core.models import Attempt, Delivery
from tests.factories import make_clients, make_mailing

pytestmark = pytest.mark.django_db


def run_due() -> str:
    """`manage.py send_mailings` as cron runs it; returns what it printed."""
    from io import StringIO

    out = StringIO()
    call_command("send_mailings", stdout=out)
    return out.getvalue()


def received(server) -> Counter:
    return Counter(r for message in server.messages for r in message.recipients)


def test_a_refused_recipient_is_recorded_the_pipelined_data_refused_and_the_others_go_out(
    faulty, user, settings
):
    settings.EMAIL_CONCURRENCY = 1
    faulty.configure(pipelining=True, reject_recipients={"client1@example.com"})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    run_due()

    assert received(faulty) == Counter({"client0@example.com": 1, "client2@example.com": 1})
    refused = Delivery.objects.get(mailing=mailing, email="client1@example.com")
    assert refused.status == "failed" and refused.reply_text.startswith("550 5.1.1")
    # DATA went with MAIL and RCPT, before the refusal was read; then the transaction reset.
    commands = [command.split(" ")[0].upper() for command in faulty.commands]
    refused_at = commands.index("RCPT", commands.index("RCPT") + 1)
    assert commands[refused_at : refused_at + 3] == ["RCPT", "DATA", "RSET"]


def test_without_pipelining_data_is_never_sent_after_a_refused_recipient(faulty, user, settings):
    settings.EMAIL_CONCURRENCY = 1
    faulty.configure(reject_recipients={"client0@example.com"})
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    assert [command.split(" ")[0].upper() for command in faulty.commands][-3:] == [
        "RCPT",
        "RSET",
        "QUIT",
    ]


def test_451_at_rcpt_is_retried_until_accepted_when_pipelined(faulty, user):
    faulty.configure(pipelining=True, defer_recipients={"client2@example.com": 2})
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    run_due()

    assert received(faulty) == Counter({f"client{n}@example.com": 1 for n in range(3)})
    deferred = Delivery.objects.get(email="client2@example.com")
    assert (deferred.status, deferred.tries) == ("accepted", 3)
    assert Attempt.objects.get(mailing=mailing).status == "success"


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_421_in_a_pipelined_group_backs_off_then_reconnects_once(faulty, user, settings, stage):
    settings.EMAIL_CONCURRENCY = 1
    faulty.configure(pipelining=True, close_421_at=stage, close_421_times=1)
    make_mailing(owner=user, clients=make_clients(owner=user, count=5))

    run_due()

    assert received(faulty) == Counter({f"client{n}@example.com": 1 for n in range(5)})
    assert faulty.connection_count == 2
    assert Attempt.objects.get().status == "success"


@pytest.mark.parametrize("stage", ["RCPT", "DATA", "MESSAGE"])
def test_a_garbage_reply_in_a_pipelined_group_stops_the_run(faulty, user, stage):
    faulty.configure(pipelining=True, garbage_at=stage)
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    run_due()

    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.accepted_count == 0
    assert "Unintelligible reply" in attempt.response_text
