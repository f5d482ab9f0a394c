"""Ids a user can type into a query string or a form: anything that names no row is a 404 or a
form error, never a 500 (non-ASCII digits, numbers past a database key, signs, words)."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from core.models import parse_object_id
from tests.factories import make_client, make_message

MALFORMED = ["²", "١٢", "99999999999999999999", "-1", "0", "1.5", "abc", " ", "1e3"]


@pytest.mark.parametrize("value", MALFORMED)
def test_parse_object_id_refuses_what_names_no_row(value):
    assert parse_object_id(value) is None


def test_parse_object_id_takes_keys_the_database_holds():
    assert parse_object_id("42") == 42
    assert parse_object_id(" 7 ") == 7
    assert parse_object_id(str(2**63 - 1)) == 2**63 - 1
    assert parse_object_id(str(2**63)) is None


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_ids_in_queries_are_not_found(user_client, user, value):
    message = make_message(owner=user)
    make_client(owner=user)
    requests = [
        (
            "post",
            reverse("client-validate-email") + "?" + urlencode({"pk": value}),
            {"email": "a@"},
        ),
        ("get", reverse("message-letter", kwargs={"pk": message.pk}), {"preview_client": value}),
        ("post", reverse("message-preview"), {"preview_client": value, "subject": "Hi"}),
        ("post", reverse("mailing-preview"), {"message": value}),
    ]
    for method, url, data in requests:
        response = getattr(user_client, method)(url, data)
        assert response.status_code == 404, (method, url, data)


def test_malformed_client_ids_in_the_mailing_form_are_a_form_error(user_client, user):
    message = make_message(owner=user)
    response = user_client.post(
        reverse("mailing-create"),
        {
            "message": message.pk,
            "clients": ["²", "99999999999999999999"],
            "start_at": "2030-01-01T09:00",
            "end_at": "2030-02-01T09:00",
            "periodicity": "daily",
        },
    )

    assert response.status_code == 200
    assert "clients" in response.context["form"].errors
