"""The tables whose rows are written in Python (core.tables.PythonRowsTable) show exactly what
django-tables2's own template shows for them."""

import re
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone, translation

from core import selectors
from core.models import Attempt, Client
from core.tables import AttemptTable, ClientTable
from tests.factories import (
    ACCEPTED,
    FAILED,
    PENDING,
    make_client,
    make_mailing,
    make_tag,
    record_run,
)

pytestmark = pytest.mark.django_db

STOCK_TEMPLATE = "django_tables2/bootstrap5-responsive.html"


def rendered(table_class, queryset, *, template_name=None) -> str:
    """The table's HTML, whitespace between and inside tags folded, as a browser reads it."""
    request = RequestFactory().get("/")
    table = table_class(queryset, template_name=template_name)
    table.paginate(per_page=25)
    html = table.as_html(request)
    html = re.sub(r">\s+<", "><", html)
    return re.sub(r"\s+", " ", html)


def assert_same_as_django_tables2(table_class, queryset) -> None:
    fast = rendered(table_class, queryset)
    assert "<tbody" in fast and "</tr>" in fast
    assert fast == rendered(table_class, queryset, template_name=STOCK_TEMPLATE)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_client_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    plain = make_client(owner=user, email="ann@example.com", full_name="Ann <b>")
    gone = make_client(owner=user, email="bob@example.com", full_name="Боб")
    Client.objects.filter(pk=gone.pk).update(
        unsubscribed_at=now, unsubscribe_source=Client.UnsubscribeSource.ONE_CLICK
    )
    bounced = make_client(owner=user, email="cid@example.com", full_name="")
    Client.objects.filter(pk=bounced.pk).update(bounced_at=now, bounce_reply='550 "No" <user>')
    make_tag(owner=user, name="VIP & friends", clients=[plain, gone])
    make_tag(owner=user, name="Москва", clients=[plain])
    clients = selectors.client_list(user=user).prefetch_related("tags")

    with translation.override(language), timezone.override("Europe/Moscow"):
        assert_same_as_django_tables2(ClientTable, clients)


def test_an_empty_client_table_matches_django_tables2s_rendering(user):
    assert_same_as_django_tables2(ClientTable, selectors.client_list(user=user))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_run_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    named = make_mailing(owner=user, name="Weekly <news>")
    unnamed = make_mailing(owner=user, subject="No name")
    record_run(named, {"a@example.com": (ACCEPTED, "250 OK")}, at=now)
    record_run(
        unnamed,
        {"b@example.com": (FAILED, "550 No")},
        at=now - timedelta(hours=1),
        server_response="x" * 200,
    )
    record_run(named, {"c@example.com": (PENDING, "")}, at=now - timedelta(hours=2))
    record_run(
        named, {}, at=now - timedelta(hours=3), status=Attempt.Status.STOPPED, server_response="?"
    )
    attempts = selectors.attempt_list(user=user)

    with translation.override(language), timezone.override("Asia/Tokyo"):
        assert_same_as_django_tables2(AttemptTable, attempts)
