"""The dashboard's tally as the sending engine keeps it: each letter accepted or refused by a
real SMTP server is added once to its owner's quarter-hour, retries and resumed runs
included, in the transaction that writes the ledger; and each run once, when it ends."""

import pytest
from django.db.models import Sum
from django.utils import timezone

from core import selectors
from core.models import Attempt, Delivery, SendingTally
from tests.factories import make_clients, make_mailing
from tests.sending.test_smtp_runs import back_off_passes, run_due

pytestmark = pytest.mark.django_db


def tally_of(user) -> tuple[int, int]:
    sums = SendingTally.objects.filter(owner=user).aggregate(a=Sum("accepted"), f=Sum("failed"))
    return (sums["a"] or 0, sums["f"] or 0)


def ledger_of(user) -> tuple[int, int]:
    lines = Delivery.objects.filter(owner=user)
    return (lines.filter(status="accepted").count(), lines.filter(status="failed").count())


def test_accepted_refused_retried_and_resumed_letters_are_each_tallied_once(
    faulty, user, other_user
):
    faulty.configure(
        reject_recipients={"client1@example.com"},
        defer_recipients={"client2@example.com": 2, "client3@example.com": 10},
    )
    make_mailing(owner=user, clients=make_clients(owner=user, count=5))
    make_mailing(
        owner=other_user,
        clients=make_clients(owner=other_user, count=2, email="other{n}@example.com"),
    )

    run_due()
    # client2 accepted on its third try; client3 left pending, its run waiting to resume.
    assert Delivery.objects.get(email="client3@example.com", owner=user).status == "pending"
    assert tally_of(user) == ledger_of(user) == (3, 1)
    waiting = selectors.delivery_window(user=user, now=timezone.now())
    assert waiting.runs == {"success": 0, "failure": 0, "running": 1}
    faulty.configure()
    back_off_passes()
    run_due()

    assert Attempt.objects.get(mailing__owner=user).status == "failure"  # client1 refused
    assert tally_of(user) == ledger_of(user) == (4, 1)
    assert tally_of(other_user) == ledger_of(other_user) == (2, 0)
    window = selectors.delivery_window(user=user, now=timezone.now())
    assert (window.accepted, window.failed, window.pending) == (4, 1, 0)
    assert window.runs == {"success": 0, "failure": 1, "running": 0}
    window = selectors.delivery_window(user=other_user, now=timezone.now())
    assert window.runs == {"success": 1, "failure": 0, "running": 0}
