"""Messages through Django's test client: list, every form path, and a delete a mailing blocks."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Message
from tests.factories import make_mailing, make_message, make_messages

pytestmark = pytest.mark.django_db


def test_list_filters_by_subject_and_hides_other_users_messages(user_client, user, other_user):
    make_message(owner=user, subject="Spring sale", body="b")
    make_message(owner=user, subject="Newsletter", body="b")
    make_message(owner=other_user, subject="Their spring sale", body="b")

    text = user_client.get(reverse("message-list"), {"q": "SPRING"}).text

    assert "Spring sale" in text
    assert "Newsletter" not in text
    assert "Their spring sale" not in text


def test_list_sorts_by_subject(user_client, user):
    make_messages(owner=user, count=3)

    text = user_client.get(reverse("message-list"), {"sort": "-subject"}).text

    assert text.index("Subject 0002") < text.index("Subject 0001") < text.index("Subject 0000")


def test_htmx_list_request_gets_only_the_table_section(htmx_client, user):
    make_messages(owner=user, count=2)

    response = htmx_client.get(reverse("message-list"), {"q": "Subject"})

    assert b"<html" not in response.content
    assert 'id="message-table-section"' in response.text
    assert 'hx-trigger="messageListChanged from:body"' in response.text


def test_list_issues_as_many_queries_for_500_messages_as_for_5(
    user_client, user, django_assert_num_queries
):
    make_messages(owner=user, count=5, subject="Few {n:04}")
    with CaptureQueriesContext(connection) as few:
        assert user_client.get(reverse("message-list")).status_code == 200
    make_messages(owner=user, count=495, subject="Many {n:04}")

    with django_assert_num_queries(len(few.captured_queries)):
        user_client.get(reverse("message-list"))


def test_create_without_htmx_redirects_to_the_message(user_client, user):
    response = user_client.post(reverse("message-create"), {"subject": "Hello", "body": "Hi!"})

    message = Message.objects.get(owner=user)
    assert response.status_code == 302
    assert response.url == reverse("message-detail", kwargs={"pk": message.pk})


def test_create_with_htmx_answers_204_with_the_triggers(htmx_client, user):
    form = htmx_client.get(reverse("message-create"))
    response = htmx_client.post(reverse("message-create"), {"subject": "Hello", "body": "Hi!"})

    assert b"<html" not in form.content and 'hx-post="/messages/new/"' in form.text
    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert set(trigger) == {"messageListChanged", "showMessage"}
    assert Message.objects.filter(owner=user, subject="Hello").exists()


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_invalid_message_is_shown_again_with_errors(user_client, headers):
    response = user_client.post(
        reverse("message-create"), {"subject": "", "body": ""}, headers=headers
    )

    assert response.status_code == 200
    assert response.text.count("This field is required.") == 2
    assert (b"<html" in response.content) is not bool(headers)


def test_update_with_and_without_htmx(user_client, htmx_client, user):
    message = make_message(owner=user, subject="Old", body="Body")
    url = reverse("message-update", kwargs={"pk": message.pk})

    plain = user_client.post(url, {"subject": "New", "body": "Body"})
    htmx = htmx_client.post(url, {"subject": "Newer", "body": "Body"})

    assert plain.status_code == 302
    assert htmx.status_code == 204 and "messageListChanged" in htmx["HX-Trigger"]
    message.refresh_from_db()
    assert message.subject == "Newer"


def test_detail_shows_the_body_and_the_mailings_that_send_it(user_client, user):
    message = make_message(owner=user, subject="Hello", body="Line one\nLine two")
    mailing = make_mailing(owner=user, message=message)

    text = user_client.get(reverse("message-detail", kwargs={"pk": message.pk})).text

    assert "Line one<br>Line two" in text
    assert reverse("mailing-detail", kwargs={"pk": mailing.pk}) in text


def test_delete_with_and_without_htmx(user_client, htmx_client, user):
    first, second = make_messages(owner=user, count=2)

    plain = user_client.post(reverse("message-delete", kwargs={"pk": first.pk}))
    htmx = htmx_client.post(reverse("message-delete", kwargs={"pk": second.pk}))

    assert plain.status_code == 302 and plain.url == reverse("message-list")
    assert htmx.status_code == 204 and "messageListChanged" in htmx["HX-Trigger"]
    assert not Message.objects.filter(owner=user).exists()


def test_deleting_a_message_a_mailing_uses_is_explained_in_the_modal(htmx_client, user):
    message = make_message(owner=user, subject="Hello", body="Body")
    make_mailing(owner=user, message=message)
    url = reverse("message-delete", kwargs={"pk": message.pk})

    question = htmx_client.get(url)
    response = htmx_client.post(url)

    for answer in (question, response):
        assert answer.status_code == 200
        assert b"<html" not in answer.content
        assert "This message cannot be deleted: a mailing sends it." in answer.text
        assert ">Delete</button>" not in answer.text
    assert "HX-Trigger" not in response
    assert Message.objects.filter(pk=message.pk).exists()


def test_deleting_a_used_message_without_htmx_explains_on_the_page(user_client, user):
    message = make_message(owner=user, subject="Hello", body="Body")
    make_mailing(owner=user, message=message)
    make_mailing(owner=user, message=message)

    response = user_client.post(reverse("message-delete", kwargs={"pk": message.pk}))

    assert response.status_code == 200
    assert "This message cannot be deleted: 2 mailings send it." in response.text
    assert Message.objects.filter(pk=message.pk).exists()
