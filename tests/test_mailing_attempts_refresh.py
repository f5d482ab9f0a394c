"""The attempts section of a mailing's page polls only while a run is in progress."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt
from tests.factories import make_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(user):
    return make_mailing(owner=user, subject="News", body="Body", start_at=timezone.now())


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
