"""Mailings through Django's test client: list, form rules, scheduling, detail and attempts."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, Client, Mailing, Message, Periodicity
from tests.factories import make_client, make_clients, make_mailing, make_mailings, make_message

pytestmark = pytest.mark.django_db

FORMAT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def message(user) -> Message:
    return make_message(owner=user, subject="Spring sale", body="Everything -20%")


@pytest.fixture
def clients(user) -> list[Client]:
    return make_clients(owner=user, count=3, full_name="Client {n}")


def local(moment) -> str:
    return timezone.localtime(moment).strftime(FORMAT)


def form_data(message, clients, *, start_in=timedelta(days=1), end_in=timedelta(days=30), **more):
    now = timezone.now()
    return {
        "name": "Weekly news",
        "message": message.pk,
        "clients": [c.pk for c in clients],
        "start_at": local(now + start_in),
        "end_at": local(now + end_in),
        "periodicity": Periodicity.WEEKLY,
        **more,
    }


# Create and edit


def test_create_without_htmx_saves_schedules_and_redirects(user_client, user, message, clients):
    response = user_client.post(reverse("mailing-create"), form_data(message, clients))

    mailing = Mailing.objects.get(owner=user)
    assert response.status_code == 302
    assert response.url == reverse("mailing-detail", kwargs={"pk": mailing.pk})
    assert set(mailing.clients.all()) == set(clients)
    assert mailing.periodicity == Periodicity.WEEKLY
    assert mailing.status == Mailing.Status.CREATED
    # The scheduling entry point ran: a future window runs first at its start.
    assert mailing.next_run_at == mailing.start_at


def test_create_with_htmx_answers_204_with_the_triggers(htmx_client, user, message, clients):
    form = htmx_client.get(reverse("mailing-create"))
    response = htmx_client.post(reverse("mailing-create"), form_data(message, clients))

    assert b"<html" not in form.content and 'hx-post="/mailings/new/"' in form.text
    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert set(trigger) == {"mailingListChanged", "showMessage"}
    assert Mailing.objects.filter(owner=user).count() == 1


def test_another_users_message_id_is_refused(user_client, user, other_user, clients):
    theirs = make_message(owner=other_user, subject="Theirs", body="b")

    response = user_client.post(reverse("mailing-create"), form_data(theirs, clients))

    assert response.status_code == 200
    assert response.context["form"].errors["message"]
    assert not Mailing.objects.exists()


def test_another_users_client_id_is_refused(htmx_client, user, other_user, message, clients):
    theirs = make_client(owner=other_user, email="theirs@example.com", full_name="T")

    response = htmx_client.post(reverse("mailing-create"), form_data(message, [*clients, theirs]))

    assert response.status_code == 200
    assert f"Select a valid choice. {theirs.pk} is not one of the available choices." in (
        response.text
    )
    assert "theirs@example.com" not in response.text
    assert not Mailing.objects.exists()


def test_end_before_start_is_refused(user_client, message, clients):
    data = form_data(message, clients, start_in=timedelta(days=5), end_in=timedelta(days=2))

    response = user_client.post(reverse("mailing-create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["end_at"] == ["The end must be after the first send."]
    assert not Mailing.objects.exists()


def test_end_already_passed_is_refused(user_client, message, clients):
    data = form_data(message, clients, start_in=-timedelta(days=5), end_in=-timedelta(hours=1))

    response = user_client.post(reverse("mailing-create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["end_at"] == ["The end has already passed."]
    assert not Mailing.objects.exists()


def test_a_mailing_needs_clients_or_tags(user_client, message):
    response = user_client.post(reverse("mailing-create"), form_data(message, []))

    assert response.context["form"].non_field_errors() == ["Choose some clients, or tags, or both."]
    assert not Mailing.objects.exists()


def test_status_is_not_editable(user_client, user, message, clients):
    user_client.post(reverse("mailing-create"), form_data(message, clients, status="finished"))

    assert Mailing.objects.get(owner=user).status == Mailing.Status.CREATED


def test_edit_keeps_chosen_clients_and_schedules_again(
    user_client, htmx_client, user, message, clients
):
    user_client.post(reverse("mailing-create"), form_data(message, clients[:1]))
    mailing = Mailing.objects.get(owner=user)
    url = reverse("mailing-update", kwargs={"pk": mailing.pk})

    form = htmx_client.get(url)
    response = htmx_client.post(
        url, form_data(message, clients, start_in=timedelta(days=3), end_in=timedelta(days=9))
    )

    assert f'<option value="{clients[0].pk}" selected>' in form.text
    assert response.status_code == 204
    mailing.refresh_from_db()
    assert mailing.clients.count() == 3
    assert mailing.next_run_at == mailing.start_at
    assert mailing.start_at > timezone.now() + timedelta(days=2)


def test_client_picker_never_lists_ten_thousand_clients(user_client, user, message):
    make_clients(owner=user, count=10_000, email="c{n:05}@example.com", full_name="C {n}")
    last = Client.objects.get(owner=user, email="c09999@example.com")
    now = timezone.now()
    mailing = make_mailing(
        owner=user,
        message=message,
        clients=[last],
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=2),
    )

    response = user_client.get(reverse("mailing-update", kwargs={"pk": mailing.pk}))

    picker = response.text.split('name="clients"', 1)[1].split("</select>", 1)[0]
    assert picker.count("<option") == 51  # the chosen client and the first fifty
    assert f'<option value="{last.pk}" selected>' in picker
    assert 'data-search-url="/clients/search/"' in picker


# Lists


def test_list_filters_by_status_periodicity_message_and_first_send(user_client, user, message):
    other_message = make_message(owner=user, subject="Newsletter", body="b")
    now = timezone.now()
    early = make_mailing(
        owner=user,
        message=message,
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=9),
    )
    late = make_mailing(
        owner=user,
        message=other_message,
        start_at=now + timedelta(days=20),
        end_at=now + timedelta(days=40),
        periodicity=Periodicity.MONTHLY,
        status=Mailing.Status.RUNNING,
    )
    url = reverse("mailing-list")

    def listed(**params):
        text = user_client.get(url, params).text
        return {m.pk for m in (early, late) if f'data-pk="{m.pk}"' in text}

    assert listed() == {early.pk, late.pk}
    assert listed(status="running") == {late.pk}
    assert listed(periodicity="daily") == {early.pk}
    assert listed(message=message.pk) == {early.pk}
    assert listed(start_at_after=(now + timedelta(days=10)).date().isoformat()) == {late.pk}
    assert listed(start_at_before=(now + timedelta(days=10)).date().isoformat()) == {early.pk}


def test_message_filter_offers_only_the_users_messages(user_client, other_user, message):
    make_message(owner=other_user, subject="Their secret", body="b")

    text = user_client.get(reverse("mailing-list")).text

    assert "Spring sale" in text
    assert "Their secret" not in text


def test_list_shows_the_recipient_count(user_client, user, message, clients):
    make_mailings(owner=user, message=message, clients=clients, count=1)

    response = user_client.get(reverse("mailing-list"))

    row = response.context["table"].page.object_list.data[0]
    assert row.recipient_count == 3


def test_htmx_list_request_gets_only_the_table_section(htmx_client):
    response = htmx_client.get(reverse("mailing-list"), {"status": "created"})

    assert b"<html" not in response.content
    assert 'hx-trigger="mailingListChanged from:body"' in response.text


def test_list_issues_as_many_queries_for_500_mailings_as_for_5(
    user_client, user, message, clients, django_assert_num_queries
):
    make_mailings(owner=user, message=message, clients=clients, count=5)
    with CaptureQueriesContext(connection) as few:
        assert user_client.get(reverse("mailing-list")).status_code == 200
    make_mailings(owner=user, message=message, clients=clients, count=495)

    with django_assert_num_queries(len(few.captured_queries)):
        user_client.get(reverse("mailing-list"))


# Detail and delete


def test_detail_shows_message_recipients_schedule_and_attempts(user_client, user, message, clients):
    user_client.post(reverse("mailing-create"), form_data(message, clients))
    mailing = Mailing.objects.get(owner=user)
    Attempt.objects.create(
        mailing=mailing,
        status=Attempt.Status.FAILURE,
        server_response="550 mailbox unavailable",
        accepted_count=2,
        failed_count=1,
    )

    response = user_client.get(reverse("mailing-detail", kwargs={"pk": mailing.pk}))

    text = response.text
    assert "Spring sale" in text
    assert 'data-testid="recipient-count">3<' in text
    assert 'data-testid="status">Created<' in text
    assert 'data-testid="next-run-at">—<' not in text
    assert text.count('data-testid="attempt"') == 1
    assert "550 mailbox unavailable" in text
    # The actions beside the subject, Send now first, and the delivery report loaded after.
    send_url = reverse("mailing-send", kwargs={"pk": mailing.pk})
    assert f'hx-post="{send_url}"' in text and 'data-testid="send-now"' in text
    assert f'href="{reverse("mailing-report", kwargs={"pk": mailing.pk})}"' in text


def test_attempts_section_alone_for_htmx(htmx_client, user, message):
    now = timezone.now()
    mailing = make_mailing(
        owner=user,
        message=message,
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=2),
    )

    response = htmx_client.get(reverse("mailing-attempts", kwargs={"pk": mailing.pk}))

    assert b"<html" not in response.content
    assert response.text.strip().startswith('<section id="mailing-attempts"')
    assert "No runs yet." in response.text


def test_delete_with_and_without_htmx(user_client, htmx_client, user, message, clients):
    make_mailings(owner=user, message=message, clients=clients, count=2)
    first, second = Mailing.objects.filter(owner=user)

    plain = user_client.post(reverse("mailing-delete", kwargs={"pk": first.pk}))
    question = htmx_client.get(reverse("mailing-delete", kwargs={"pk": second.pk}))
    htmx = htmx_client.post(reverse("mailing-delete", kwargs={"pk": second.pk}))

    assert plain.status_code == 302 and plain.url == reverse("mailing-list")
    assert b"<html" not in question.content and "Delete the mailing" in question.text
    assert htmx.status_code == 204 and "mailingListChanged" in htmx["HX-Trigger"]
    assert not Mailing.objects.exists()
    assert Client.objects.filter(owner=user).count() == 3


def test_dates_typed_in_the_browsers_pickers_work_in_russian(user_client, user, message, clients):
    """The pickers send ISO dates whatever the language; the Russian formats differ."""
    headers = {"Accept-Language": "ru"}
    user_client.post(reverse("mailing-create"), form_data(message, clients), headers=headers)
    mailing = Mailing.objects.get(owner=user)

    form = user_client.get(reverse("mailing-update", kwargs={"pk": mailing.pk}), headers=headers)
    listed = user_client.get(
        reverse("mailing-list"),
        {"start_at_after": timezone.localdate().isoformat()},
        headers=headers,
    )

    assert f'value="{local(mailing.start_at)}"' in form.text
    assert f'data-pk="{mailing.pk}"' in listed.text
    assert 'lang="ru"' in listed.text
