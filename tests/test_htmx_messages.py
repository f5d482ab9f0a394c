"""Django messages reach htmx as `showMessage` in HX-Trigger, beside the events a view sets."""

import json

from django.contrib import messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxMiddleware

from core.middleware import HtmxMessagesMiddleware
from core.models import Client


def test_a_toast_in_russian_crosses_the_latin1_header_escaped(htmx_client, user):
    response = htmx_client.post(reverse("message-create"), {"subject": "Привет", "body": "Тело"})

    header = response["HX-Trigger"]
    assert header.isascii()
    assert json.loads(header)["showMessage"] == {
        "text": "Message “Привет” saved.",
        "level": "success",
    }


def test_several_messages_become_a_list_and_the_views_own_events_stay(db):
    def view(request):
        messages.success(request, "First")
        messages.error(request, "Second")
        return HttpResponse(status=204, headers={"HX-Trigger": "clientListChanged, other"})

    stack = SessionMiddleware(MessageMiddleware(HtmxMiddleware(HtmxMessagesMiddleware(view))))
    response = stack(RequestFactory().post("/", headers={"HX-Request": "true"}))

    assert json.loads(response["HX-Trigger"]) == {
        "clientListChanged": None,
        "other": None,
        "showMessage": [
            {"text": "First", "level": "success"},
            {"text": "Second", "level": "danger"},
        ],
    }


def test_an_htmx_answer_that_leaves_the_page_keeps_the_message_for_the_next_one(htmx_client, user):
    client = Client.objects.create(owner=user, email="anna@example.com", full_name="Anna")
    detail = reverse("client-detail", kwargs={"pk": client.pk})

    response = htmx_client.post(
        reverse("client-delete", kwargs={"pk": client.pk}),
        headers={"HX-Current-URL": f"http://testserver{detail}"},
    )
    next_page = htmx_client.get(reverse("client-list"), headers={"HX-Request": ""})

    assert "HX-Trigger" not in response
    assert "Client anna@example.com deleted." in next_page.text
