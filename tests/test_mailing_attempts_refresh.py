"""The runs section of a mailing's page, and the mailings list, poll only while a run is due
or in progress, ask once more when the next becomes due, and stay still otherwise."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, Mailing
from tests.factories import make_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(user):
    # No run left to come: only its runs can make the page change.
    return make_mailing(
        owner=user, subject="News", body="Body", start_at=timezone.now(), next_run_at=None
    )


def test_a_run_in_progress_makes_the_section_poll(htmx_client, mailing):
    Attempt.objects.create(mailing=mailing, status=Attempt.Status.RUNNING)

    response = htmx_client.get(reverse("mailing-attempts", kwargs={"pk": mailing.pk}))

    html = response.content.decode()
    assert "<html" not in html
    assert "every 2s" in html and "?polling=1" in html
    assert "HX-Trigger" not in response.headers


def test_the_poll_that_finds_the_run_over_stops_and_says_so(htmx_client, mailing):
    Attempt.objects.create(mailing=mailing, status=Attempt.Status.SUCCESS)
    url = reverse("mailing-attempts", kwargs={"pk": mailing.pk})

    response = htmx_client.get(url, {"polling": "1"})

    assert "every 2s" not in response.content.decode()
    assert "mailingRunFinished" in json.loads(response.headers["HX-Trigger"])


def test_a_page_without_a_run_in_progress_does_not_poll(user_client, mailing):
    Attempt.objects.create(mailing=mailing, status=Attempt.Status.FAILURE)

    html = user_client.get(reverse("mailing-detail", kwargs={"pk": mailing.pk})).content.decode()

    assert "every 2s" not in html
    assert 'hx-trigger="mailingSent from:body"' in html


def test_a_run_waiting_to_be_resumed_later_does_not_poll(htmx_client, mailing):
    Attempt.objects.create(
        mailing=mailing,
        status=Attempt.Status.RUNNING,
        lease_token="",
        resume_at=timezone.now() + timedelta(minutes=5),
    )

    response = htmx_client.get(reverse("mailing-attempts", kwargs={"pk": mailing.pk}))

    assert "every 2s" not in response.content.decode()


def test_a_mailing_whose_run_is_due_makes_its_page_poll(user_client, user):
    due = make_mailing(owner=user, start_at=timezone.now() - timedelta(seconds=5))

    html = user_client.get(reverse("mailing-detail", kwargs={"pk": due.pk})).content.decode()

    assert "every 2s" in html and "polling=1" in html


def test_a_mailing_due_later_asks_once_when_its_first_send_comes(user_client, user):
    later = make_mailing(owner=user, start_at=timezone.now() + timedelta(minutes=10))

    html = user_client.get(reverse("mailing-detail", kwargs={"pk": later.pk})).content.decode()

    assert "every 2s" not in html
    delay = int(re.search(r"load delay:(\d+)s", html).group(1))
    assert 590 <= delay <= 601


def test_a_paused_mailing_due_now_does_not_poll(user_client, user):
    paused = make_mailing(owner=user)
    paused.paused_at = timezone.now()
    paused.save(update_fields=["paused_at"])

    html = user_client.get(reverse("mailing-detail", kwargs={"pk": paused.pk})).content.decode()

    assert "every 2s" not in html and "load delay" not in html


def test_a_poll_that_sees_a_new_run_refreshes_the_details_once(htmx_client, user):
    due = make_mailing(owner=user)
    url = reverse("mailing-attempts", kwargs={"pk": due.pk})
    first = htmx_client.get(url, {"polling": "1", "seen": "none"})
    assert "HX-Trigger" not in first.headers

    attempt = Attempt.objects.create(mailing=due, status=Attempt.Status.RUNNING)
    second = htmx_client.get(url, {"polling": "1", "seen": "none"})
    again = htmx_client.get(url, {"polling": "1", "seen": f"{attempt.pk}-running-False"})

    assert "mailingRunFinished" in json.loads(second.headers["HX-Trigger"])
    assert "HX-Trigger" not in again.headers


def test_the_mailings_list_polls_while_a_run_is_due_and_not_after(user_client, user):
    mailing = make_mailing(owner=user)
    url = reverse("mailing-list")
    assert "every 5s" in user_client.get(url).content.decode()

    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=None, status="finished")

    html = user_client.get(url).content.decode()
    assert "every 5s" not in html and "load delay" not in html
