"""A crawl of every page of the app with malformed query parameters: a clear answer (a page, a
form error, a 400 or a 404), never a 500."""

import pytest
from django.urls import reverse
from django.utils import timezone

from core.services import administration, health
from core.views.lists import MAX_PER_PAGE
from tests.factories import (
    make_client,
    make_clients,
    make_import,
    make_mailing,
    make_message,
    record_run,
)
from tests.test_access import app_url_patterns

MALFORMED = {
    "page": ["99999999999999999999", "-1", "²", "abc", "0"],
    "per_page": ["100000", "-5", "x"],
    "sort": ["nonexistent", "-", "__class__", "email;drop"],
    "q": ["%", "\\", "' OR 1=1 --", "x" * 5000],
    "date_from": ["0001-01-01", "9999-12-31", "2026-02-30", "x"],
    "date_to": ["9999-12-31", "0001-01-01", "x"],
    "start_at_after": ["0001-01-01", "9999-12-31"],
    "start_at_before": ["0001-01-01", "9999-12-31"],
    "status": ["nonexistent"],
    "mailing": ["99999999999999999999", "²", "x"],
    "owner": ["99999999999999999999", "²"],
    "state": ["nonexistent"],
    "action": ["nonexistent"],
    "pk": ["²", "99999999999999999999"],
    "preview_client": ["²", "99999999999999999999"],
    "email": ["a" * 300 + "@example.com", "@", "\x00"],
    "tag": ["²", "99999999999999999999", "x"],
    "format": ["x", "xlsx\x00"],
    "delimiter": ["x", ";"],
}

# The bulk form's fields (client-bulk, and client-export by POST), posted malformed.
MALFORMED_BULK = {
    "action": ["", "nonexistent", "tag", "untag", "add-to-mailing", "delete"],
    "pk": ["²", "99999999999999999999", "-1", "x"],
    "scope": ["matching", "x"],
    "filter": ["state=nonexistent", "tag=²", "q=%", "%%%", "page=-1&sort=__class__"],
    "confirm": ["1", "x"],
    "tag_names": ["x" * 500, ",,,", "\x00"],
    "tags": ["²", "99999999999999999999"],
    "mailing": ["²", "99999999999999999999"],
}


@pytest.fixture
def crawler(client, user):
    """A signed-in manager who owns one of everything, so every URL has an object to show, on a
    service whose scheduler and workers are alive."""
    administration.managers_add(user=user)
    other = make_client(owner=user, email="c@example.com", full_name="C")
    message = make_message(owner=user)
    mailing = make_mailing(owner=user, message=message, clients=[other])
    record_run(mailing, {"c@example.com": ("accepted", "250 OK")}, at=timezone.now())
    # A healthy service, so that /healthz answers 200 (its 503 is a state, not an error).
    health.heartbeat_beat(health.SCHEDULER)
    health.heartbeat_beat(health.WORKER)
    client.force_login(user)
    client.raise_request_exception = False  # a 500 is counted, not raised
    objects = {"client": other, "message": message, "mailing": mailing, "user": user}
    objects["import"] = make_import(owner=user)
    return client, objects


def crawl_urls(objects) -> list[str]:
    urls = []
    for pattern in app_url_patterns():
        keys = set(pattern.pattern.converters)
        if not keys:
            urls.append(reverse(pattern.name))
        elif keys == {"pk"}:
            noun = pattern.name.removeprefix("manage-").split("-")[0]
            if noun in objects:
                urls.append(reverse(pattern.name, kwargs={"pk": objects[noun].pk}))
    return urls


@pytest.mark.django_db
def test_no_query_parameter_answers_500(crawler):
    client, objects = crawler
    failures = []
    for url in crawl_urls(objects):
        for name, values in MALFORMED.items():
            for value in values:
                for htmx in (False, True):
                    headers = {"HX-Request": "true"} if htmx else {}
                    response = client.get(url, {name: value}, headers=headers)
                    if response.status_code >= 500:
                        failures.append(f"{url}?{name}={value[:30]} htmx={htmx}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_no_resume_or_cancel_of_an_import_answers_500(crawler):
    """The buttons of an interrupted import, posted for imports in every state, with bodies
    and ids that make no sense."""
    client, objects = crawler
    owner = objects["user"]
    states = [
        objects["import"],
        make_import(owner=owner, done=True),
        make_import(owner=owner, interrupted=True),
        make_import(owner=owner, interrupted=True),
    ]
    failures = []
    for imp in states:
        for name in ("import-resume", "import-cancel"):
            for data in ({}, {"pk": "²"}, {"status": "\x00"}, {"x" * 300: "x" * 5000}):
                response = client.post(reverse(name, args=[imp.pk]), data)
                if response.status_code >= 500:
                    failures.append(f"{name} {imp.status} {list(data)[:1]}")
    for pk in ("99999999999999999999", "0"):
        for name in ("resume", "cancel"):
            response = client.post(f"/clients/imports/{pk}/{name}/")
            if response.status_code >= 500:
                failures.append(f"{name} pk={pk}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_a_page_size_is_capped_and_a_page_past_the_last_shows_the_last(user_client, user):
    make_clients(owner=user, count=MAX_PER_PAGE + 30)

    huge = user_client.get(reverse("client-list"), {"per_page": "100000"})
    past = user_client.get(reverse("client-list"), {"page": "99999"})

    assert len(huge.context["table"].page.object_list) == MAX_PER_PAGE
    assert past.context["table"].page.number == past.context["table"].paginator.num_pages


@pytest.mark.django_db
def test_no_bulk_form_answers_500(crawler):
    client, objects = crawler
    failures = []
    for url in (reverse("client-bulk"), reverse("client-export") + "?format=xlsx"):
        for name, values in MALFORMED_BULK.items():
            for value in values:
                for action in ("tag", "untag", "add-to-mailing", "delete"):
                    data = {"action": action, "confirm": "1", "pk": objects["client"].pk}
                    response = client.post(url, data | {name: value})
                    if response.status_code >= 500:
                        failures.append(f"{url} {action} {name}={value[:30]}")
    assert not failures, "\n".join(failures)


# The mailing form's fields, posted malformed: dates at the ends of the calendar (which the
# time zone moves past them), ids past any integer column, in every periodicity.
MALFORMED_MAILING = {
    "start_at": ["0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30T10:00", "x"],
    "end_at": ["0001-01-01T00:00", "9999-12-31T23:59", "x"],
    "clients": ["99999999999999999999", "²", "-1"],
    "tags": ["99999999999999999999", "²", "-1"],
    "message": ["99999999999999999999", "²"],
    "periodicity": ["once", "daily", "nonexistent"],
}


@pytest.mark.django_db
def test_no_mailing_form_post_answers_500(crawler):
    client, objects = crawler
    mailing = objects["mailing"]
    valid = {
        "name": "Crawl",
        "message": objects["message"].pk,
        "clients": objects["client"].pk,
        "start_at": "2030-01-01T10:00",
        "end_at": "2030-02-01T10:00",
        "periodicity": "daily",
    }
    failures = []
    for url in (reverse("mailing-create"), reverse("mailing-update", args=[mailing.pk])):
        for name, values in MALFORMED_MAILING.items():
            for value in values:
                for periodicity in ("once", "weekly"):
                    for htmx in (False, True):
                        headers = {"HX-Request": "true"} if htmx else {}
                        data = valid | {"periodicity": periodicity, name: value}
                        response = client.post(url, data, headers=headers)
                        if response.status_code >= 500:
                            failures.append(f"{url} {periodicity} {name}={value} htmx={htmx}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_a_first_send_at_the_end_of_the_calendar_is_a_form_error(crawler):
    client, objects = crawler
    data = {
        "name": "Crawl",
        "message": objects["message"].pk,
        "clients": objects["client"].pk,
        "periodicity": "daily",
    }

    for start_at, end_at in (
        ("0001-01-01T00:00", "2030-01-01T10:00"),
        ("2030-01-01T10:00", "9999-12-31T23:59"),
    ):
        response = client.post(
            reverse("mailing-create"), data | {"start_at": start_at, "end_at": end_at}
        )

        assert response.status_code == 200
        assert response.context["form"].errors
