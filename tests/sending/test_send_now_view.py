"""The "Send now" button: opens a run at once and leaves the mail server to a worker's task."""

import json

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from core.models import Attempt, Delivery
from tests.factories import make_clients, make_mailing

pytestmark = pytest.mark.django_db

# What the confirmation's form posts (tests/sending/test_limits.py covers the question itself).
CONFIRMED = {"confirmed": "1"}


def test_send_now_over_htmx_opens_a_run_and_answers_with_a_toast(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))

    response = htmx_client.post(reverse("mailing-send", kwargs={"pk": mailing.pk}), CONFIRMED)

    assert response.status_code == 204
    trigger = json.loads(response.headers["HX-Trigger"])
    attempt = Attempt.objects.get(mailing=mailing)
    assert trigger["mailingSent"] == {"mailing": mailing.pk, "attempt": attempt.pk}
    assert trigger["showMessage"] == {"text": "Sending to 3 recipients.", "level": "info"}
    assert (attempt.status, attempt.slot_at, attempt.pending_count) == ("running", None, 3)
    assert Delivery.objects.filter(attempt=attempt, status="pending").count() == 3
    # A worker sends it: the task names the run.
    (task,) = DBTaskResult.objects.ready()
    assert (task.task_path, task.args_kwargs["args"]) == (
        "core.services.sending.background.attempt_send_task",
        [attempt.pk],
    )


def test_a_run_opened_by_send_now_is_sent_by_the_next_scheduler_tick(htmx_client, user, sink):
    # Not due: only the button makes it go.
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2), next_run_at=None)
    htmx_client.post(reverse("mailing-send", kwargs={"pk": mailing.pk}), CONFIRMED)

    call_command("send_mailings")

    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.status, attempt.accepted_count) == ("success", 2)
    assert len(sink.messages) == 2


def test_send_now_without_htmx_redirects_to_the_mailing(user_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    response = user_client.post(reverse("mailing-send", kwargs={"pk": mailing.pk}), CONFIRMED)

    assert response.status_code == 302
    assert response.url == reverse("mailing-detail", kwargs={"pk": mailing.pk})
    assert Attempt.objects.filter(mailing=mailing).count() == 1


def test_send_now_for_a_mailing_without_clients_warns(htmx_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=0))

    response = htmx_client.post(reverse("mailing-send", kwargs={"pk": mailing.pk}), CONFIRMED)

    trigger = json.loads(response.headers["HX-Trigger"])
    assert trigger["showMessage"] == {"text": "Sending to 0 recipients.", "level": "warning"}


def test_send_now_is_post_only(user_client, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    response = user_client.get(reverse("mailing-send", kwargs={"pk": mailing.pk}))

    assert response.status_code == 405
    assert not Attempt.objects.exists()


def test_send_now_of_another_users_mailing_is_not_found(user_client, other_user):
    theirs = make_mailing(owner=other_user, clients=make_clients(owner=other_user, count=1))

    response = user_client.post(reverse("mailing-send", kwargs={"pk": theirs.pk}), CONFIRMED)

    assert response.status_code == 404
    assert not Attempt.objects.exists()


def test_the_button_posts_to_send_now_with_htmx(user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    html = render_to_string("core/mailing/send_button.html", {"mailing": mailing})

    url = reverse("mailing-send", kwargs={"pk": mailing.pk})
    assert f'action="{url}"' in html and f'hx-post="{url}"' in html
    assert 'method="post"' in html and "Send now" in html
