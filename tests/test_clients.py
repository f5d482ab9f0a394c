"""Clients through Django's test client: lists, every form path with and without htmx."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.forms import ClientForm
from core.models import Client
from tests.factories import make_client, make_clients, make_tag

pytestmark = pytest.mark.django_db


def hx_trigger(response) -> dict:
    return json.loads(response["HX-Trigger"])


# Lists


def test_list_shows_only_the_users_clients(user_client, user, other_user):
    make_client(owner=user, email="mine@example.com", full_name="Mine")
    make_client(owner=other_user, email="theirs@example.com", full_name="Theirs")

    response = user_client.get(reverse("client-list"))

    assert response.status_code == 200
    assert b"<html" in response.content
    assert "mine@example.com" in response.text
    assert "theirs@example.com" not in response.text


def test_list_filters_by_text_over_email_and_name(user_client, user):
    make_client(owner=user, email="alla@example.com", full_name="Alla Petrova")
    make_client(owner=user, email="boris@example.com", full_name="Boris Ivanov")
    make_client(owner=user, email="vera@example.com", full_name="Vera Petrova")

    by_name = user_client.get(reverse("client-list"), {"q": "petrova"}).text
    by_email = user_client.get(reverse("client-list"), {"q": "BORIS@"}).text

    assert "alla@example.com" in by_name and "vera@example.com" in by_name
    assert "boris@example.com" not in by_name
    assert "boris@example.com" in by_email and "alla@example.com" not in by_email


def test_list_sorts_and_pages_and_its_links_keep_the_filter(user_client, user):
    make_clients(owner=user, count=30, email="client{n:04}@example.com", full_name="Name {n:04}")

    response = user_client.get(reverse("client-list"), {"q": "client", "sort": "-email"})

    text = response.text
    assert text.index("client0029@example.com") < text.index("client0028@example.com")
    assert "client0004@example.com" not in text  # on page 2
    # The page link keeps its href (no JavaScript); the table section boosts it for htmx.
    assert 'href="?q=client&amp;sort=-email&amp;page=2"' in text
    assert 'hx-boost="true"' in text
    assert 'hx-push-url="true"' in text
    page_two = user_client.get(reverse("client-list"), {"q": "client", "sort": "-email", "page": 2})
    assert "client0004@example.com" in page_two.text


def test_htmx_list_request_gets_only_the_table_section(htmx_client, user):
    make_clients(owner=user, count=3, email="client{n:04}@example.com", full_name="Name {n:04}")

    response = htmx_client.get(reverse("client-list"), {"sort": "email"})

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert response.text.lstrip().startswith('<section id="client-table-section"')
    assert 'hx-trigger="clientListChanged from:body"' in response.text
    # The section re-fetches itself with the current querystring when a client changes.
    assert 'hx-get="/clients/?sort=email"' in response.text


def test_history_restore_request_gets_the_whole_page(htmx_client, user):
    response = htmx_client.get(
        reverse("client-list"), headers={"HX-History-Restore-Request": "true"}
    )

    assert b"<html" in response.content


def test_list_issues_as_many_queries_for_500_clients_as_for_5(
    user_client, user, django_assert_num_queries
):
    make_clients(owner=user, count=5, email="few{n:04}@example.com", full_name="Name {n:04}")
    with CaptureQueriesContext(connection) as few:
        assert user_client.get(reverse("client-list")).status_code == 200
    make_clients(owner=user, count=495, email="many{n:04}@example.com", full_name="Name {n:04}")

    with django_assert_num_queries(len(few.captured_queries)):
        response = user_client.get(reverse("client-list"))

    assert response.text.count('data-testid="edit"') == 25


# Create


def test_create_without_htmx_saves_and_redirects_to_the_client(user_client, user):
    response = user_client.post(
        reverse("client-create"),
        {"email": "  New.Client@Example.COM ", "full_name": "New Client", "comment": "VIP"},
    )

    client = Client.objects.get(owner=user)
    assert client.email == "new.client@example.com"
    assert response.status_code == 302
    assert response.url == reverse("client-detail", kwargs={"pk": client.pk})


def test_create_form_page_without_htmx_is_a_whole_page(user_client):
    response = user_client.get(reverse("client-create"))

    assert b"<html" in response.content
    assert 'action="/clients/new/"' in response.text
    assert 'hx-post="/clients/new/"' not in response.text


def test_create_form_for_htmx_is_a_modal_fragment(htmx_client):
    response = htmx_client.get(reverse("client-create"))

    assert b"<html" not in response.content
    assert 'hx-post="/clients/new/"' in response.text
    assert 'hx-target="#modal-content"' in response.text
    assert 'class="modal-header"' in response.text
    # Leaving the email field asks the server, and only the error element is swapped.
    assert 'hx-post="/clients/validate-email/"' in response.text
    assert 'hx-trigger="blur"' in response.text
    assert 'hx-target="#client-email-errors"' in response.text


def test_create_with_htmx_answers_204_and_triggers_the_list_refresh(htmx_client, user):
    response = htmx_client.post(
        reverse("client-create"), {"email": "new@example.com", "full_name": "New"}
    )

    assert response.status_code == 204
    assert response.content == b""
    trigger = hx_trigger(response)
    assert set(trigger) == {"clientListChanged", "showMessage"}
    assert trigger["showMessage"]["level"] == "success"
    assert "new@example.com" in trigger["showMessage"]["text"]
    assert Client.objects.filter(owner=user, email="new@example.com").exists()


def test_invalid_create_with_htmx_rerenders_the_form_with_errors(htmx_client, user):
    response = htmx_client.post(reverse("client-create"), {"email": "not-an-email"})

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert "Enter a valid email address." in response.text
    assert "This field is required." in response.text
    assert "HX-Trigger" not in response
    assert not Client.objects.filter(owner=user).exists()


def test_invalid_create_without_htmx_rerenders_the_page(user_client):
    response = user_client.post(reverse("client-create"), {"email": "", "full_name": ""})

    assert response.status_code == 200
    assert b"<html" in response.content
    assert response.text.count("This field is required.") == 2


@pytest.mark.parametrize("typed", ["anna@example.com", "  ANNA@Example.com  "])
@pytest.mark.parametrize("htmx", [False, True])
def test_duplicate_email_is_rejected_case_insensitively_on_submit(user, typed, htmx):
    from django.test import Client as HttpClient

    http = HttpClient(headers={"HX-Request": "true"} if htmx else {})
    http.force_login(user)
    make_client(owner=user, email="anna@example.com", full_name="Anna")

    response = http.post(reverse("client-create"), {"email": typed, "full_name": "Again"})

    assert response.status_code == 200
    assert "This email is already in your clients." in response.text
    assert Client.objects.filter(owner=user).count() == 1


def test_another_users_client_with_the_same_email_is_no_duplicate(user_client, user, other_user):
    make_client(owner=other_user, email="anna@example.com", full_name="Anna")

    response = user_client.post(
        reverse("client-create"), {"email": "anna@example.com", "full_name": "Anna"}
    )

    assert response.status_code == 302
    assert Client.objects.filter(owner=user, email="anna@example.com").exists()


def test_concurrent_duplicate_ends_with_one_client_and_a_form_error(htmx_client, user):
    """Another request saves the same email after this one's check and before its insert."""
    state = {"raced": False}

    def insert_the_same_email_right_after_the_check(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        is_duplicate_check = 'FROM "core_client"' in sql and "LIMIT 1" in sql
        if is_duplicate_check and not state["raced"]:
            state["raced"] = True
            make_client(owner=user, email="race@example.com", full_name="First")
        return result

    with connection.execute_wrapper(insert_the_same_email_right_after_the_check):
        response = htmx_client.post(
            reverse("client-create"), {"email": "Race@Example.com", "full_name": "Second"}
        )

    assert state["raced"]
    assert response.status_code == 200
    assert "This email is already in your clients." in response.text
    assert list(Client.objects.filter(owner=user).values_list("full_name", flat=True)) == ["First"]


# Update


def test_editing_a_client_never_flags_its_own_email(user_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")

    response = user_client.post(
        reverse("client-update", kwargs={"pk": client.pk}),
        {"email": " Anna@Example.com", "full_name": "Anna Smith"},
    )

    assert response.status_code == 302
    client.refresh_from_db()
    assert client.full_name == "Anna Smith"


def test_editing_a_client_to_another_clients_email_is_refused(htmx_client, user):
    make_client(owner=user, email="anna@example.com", full_name="Anna")
    boris = make_client(owner=user, email="boris@example.com", full_name="Boris")

    response = htmx_client.post(
        reverse("client-update", kwargs={"pk": boris.pk}),
        {"email": "ANNA@example.com", "full_name": "Boris"},
    )

    assert response.status_code == 200
    assert "This email is already in your clients." in response.text
    boris.refresh_from_db()
    assert boris.email == "boris@example.com"


def test_edit_with_htmx_prefills_and_answers_204(htmx_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    url = reverse("client-update", kwargs={"pk": client.pk})

    form = htmx_client.get(url)
    response = htmx_client.post(url, {"email": "anna@example.com", "full_name": "Anna B"})

    assert b"<html" not in form.content
    assert 'value="anna@example.com"' in form.text
    assert f'hx-post="/clients/validate-email/?pk={client.pk}"' in form.text
    assert response.status_code == 204
    assert "clientListChanged" in hx_trigger(response)


def test_detail_shows_the_client_and_refreshes_for_htmx(user_client, htmx_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    url = reverse("client-detail", kwargs={"pk": client.pk})

    page = user_client.get(url)
    fragment = htmx_client.get(url)

    assert b"<html" in page.content and "anna@example.com" in page.text
    assert b"<html" not in fragment.content and "anna@example.com" in fragment.text


# Delete


def test_delete_asks_then_deletes_without_htmx(user_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    url = reverse("client-delete", kwargs={"pk": client.pk})

    question = user_client.get(url)
    response = user_client.post(url)

    assert b"<html" in question.content
    assert "Delete the client" in question.text
    assert response.status_code == 302 and response.url == reverse("client-list")
    assert not Client.objects.filter(pk=client.pk).exists()


def test_delete_with_htmx_asks_in_the_modal_then_answers_204(htmx_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    url = reverse("client-delete", kwargs={"pk": client.pk})

    question = htmx_client.get(url)
    response = htmx_client.post(url, headers={"HX-Current-URL": "http://testserver/clients/"})

    assert b"<html" not in question.content
    assert f'hx-post="{url}"' in question.text
    assert response.status_code == 204
    assert set(hx_trigger(response)) == {"clientListChanged", "showMessage"}
    assert not Client.objects.filter(pk=client.pk).exists()


def test_delete_from_the_clients_own_page_sends_the_browser_to_the_list(htmx_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    detail = reverse("client-detail", kwargs={"pk": client.pk})

    response = htmx_client.post(
        reverse("client-delete", kwargs={"pk": client.pk}),
        headers={"HX-Current-URL": f"http://testserver{detail}"},
    )

    assert response["HX-Redirect"] == reverse("client-list")


def test_deleting_requires_post(user_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")
    url = reverse("client-delete", kwargs={"pk": client.pk})

    asked = user_client.get(url)
    refused = [user_client.put(url).status_code, user_client.delete(url).status_code]
    assert (asked.status_code, refused) == (200, [405, 405])
    assert Client.objects.filter(pk=client.pk).exists()

    deleted = user_client.post(url)

    assert deleted.status_code == 302
    assert not Client.objects.filter(pk=client.pk).exists()


# Live email check


def validate(http, email: str, pk: int | None = None):
    url = reverse("client-validate-email") + (f"?pk={pk}" if pk else "")
    return http.post(url, {"email": email})


def test_email_check_is_a_post_so_addresses_stay_out_of_urls(htmx_client):
    url = reverse("client-validate-email")

    assert htmx_client.get(url, {"email": "anna@example.com"}).status_code == 405
    assert validate(htmx_client, "anna@").status_code == 200


def test_email_check_reports_a_duplicate_in_another_case_with_spaces(htmx_client, user):
    make_client(owner=user, email="anna@example.com", full_name="Anna")

    response = validate(htmx_client, "  ANNA@example.COM ")

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert response.text.strip().startswith('<div id="client-email-errors"')
    assert "This email is already in your clients." in response.text
    # Only the error element comes back: never an <input> that would replace what is typed.
    assert "<input" not in response.text


def test_email_check_is_empty_for_a_new_email(htmx_client, user):
    make_client(owner=user, email="anna@example.com", full_name="Anna")

    response = validate(htmx_client, "anna.new@example.com")

    assert 'id="client-email-errors"' in response.text
    assert "<div>" not in response.text.split('aria-live="polite">', 1)[1]


def test_email_check_reports_an_invalid_format(htmx_client):
    assert "Enter a valid email address." in validate(htmx_client, "anna@").text


def test_email_check_never_flags_the_edited_clients_own_email(htmx_client, user):
    client = make_client(owner=user, email="anna@example.com", full_name="Anna")

    response = validate(htmx_client, "Anna@Example.com", pk=client.pk)

    assert "already" not in response.text


def test_email_check_ignores_other_users_clients_and_404s_their_pk(htmx_client, other_user):
    theirs = make_client(owner=other_user, email="anna@example.com", full_name="Anna")

    assert "already" not in validate(htmx_client, "anna@example.com").text
    assert validate(htmx_client, "anna@example.com", pk=theirs.pk).status_code == 404


# Search for the mailing form's picker


def test_client_search_finds_the_users_clients_by_email_or_name(user_client, user, other_user):
    make_client(owner=user, email="anna@example.com", full_name="Anna Petrova")
    make_client(owner=user, email="boris@example.com", full_name="Boris")
    make_client(owner=other_user, email="petrova@example.com", full_name="Other")

    results = user_client.get(reverse("client-search"), {"q": "petrova"}).json()["results"]

    assert [r["text"] for r in results] == ["Anna Petrova <anna@example.com>"]


def test_client_search_returns_at_most_twenty(user_client, user):
    make_clients(owner=user, count=30, email="client{n:04}@example.com", full_name="Name {n:04}")

    results = user_client.get(reverse("client-search"), {"q": "client"}).json()["results"]

    assert len(results) == 20


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_of_one_email_save_one_client_and_show_one_error(user):
    """Real threads, real connections: whichever order the database sees, never a 500."""
    import threading

    from django.db import connections
    from django.test import Client as HttpClient

    barrier = threading.Barrier(2)
    responses = []

    def submit(name: str) -> None:
        http = HttpClient(headers={"HX-Request": "true"}, raise_request_exception=True)
        http.force_login(user)
        barrier.wait()
        try:
            responses.append(
                http.post(
                    reverse("client-create"), {"email": "Same@Example.com", "full_name": name}
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("One", "Two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in responses) == [200, 204]
    refused = next(r for r in responses if r.status_code == 200)
    assert "This email is already in your clients." in refused.text
    assert Client.objects.filter(owner=user).count() == 1


def test_an_edit_keeps_an_unsubscribe_recorded_while_the_form_was_open(user_client, user):
    client = make_client(owner=user, email="ivan@example.com", full_name="Ivan")
    form = ClientForm(
        {"email": "ivan@example.com", "full_name": "Ivan Petrov", "comment": ""},
        instance=Client.objects.get(pk=client.pk),
        owner=user,
    )
    assert form.is_valid()
    # The recipient unsubscribes between the form's load and its save.
    Client.objects.filter(pk=client.pk).update(unsubscribed_at=timezone.now())

    form.save()

    client.refresh_from_db()
    assert client.full_name == "Ivan Petrov"
    assert client.unsubscribed_at is not None


def test_the_list_reads_the_tags_of_a_page_in_one_query_whatever_it_holds(
    user_client, user, django_assert_num_queries
):
    few = make_clients(owner=user, count=2, email="few{n:04}@example.com", full_name="F {n}")
    make_tag(owner=user, name="Early", clients=few)
    with CaptureQueriesContext(connection) as queries:
        assert user_client.get(reverse("client-list")).status_code == 200
    many = make_clients(owner=user, count=40, email="many{n:04}@example.com", full_name="M {n}")
    for name in ("VIP", "Москва", "Late"):
        make_tag(owner=user, name=name, clients=many)

    with django_assert_num_queries(len(queries.captured_queries)):
        response = user_client.get(reverse("client-list"))

    # The first page: the two early clients and 23 of the many, each of those with three tags.
    assert response.text.count('data-tag="early"') == 2
    assert response.text.count('data-tag="москва"') == 23
