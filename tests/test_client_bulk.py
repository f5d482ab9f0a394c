"""Bulk actions in the client table: the ticked rows, or all clients matching the filter
across every page, always only the user's own; a confirmation first, then one transaction."""

from urllib.parse import unquote

import pytest
from django.urls import reverse

from core.models import Client, Mailing
from core.views.lists import PER_PAGE
from tests.factories import make_client, make_clients, make_mailing, make_tag

pytestmark = pytest.mark.django_db

MATCHING = PER_PAGE * 3 + 5  # several pages


@pytest.fixture
def many(user):
    """MATCHING clients named "Покупатель …" (the filter's), and five others."""
    make_clients(owner=user, count=MATCHING, full_name="Покупатель {n}")
    make_clients(owner=user, count=5, first=1000, full_name="Поставщик {n}")


def bulk(client, action: str, *, confirm: bool = True, htmx: bool = True, **data):
    data = {"action": action, **({"confirm": "1"} if confirm else {}), **data}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(reverse("client-bulk"), data, headers=headers)


def test_all_matching_tags_every_row_of_the_filter_not_only_the_page(user_client, user, many):
    page = user_client.get(reverse("client-list"), {"q": "покупатель"})
    assert len(page.context["table"].page.object_list) == PER_PAGE
    assert page.context["table"].paginator.count == MATCHING

    response = bulk(
        user_client, "tag", scope="matching", filter="q=покупатель&page=2", tag_names="VIP"
    )

    assert response.status_code == 204
    assert response["HX-Trigger"]
    tagged = Client.objects.filter(owner=user, tags__key="vip")
    assert tagged.count() == MATCHING
    assert not tagged.filter(full_name__startswith="Поставщик").exists()


def test_the_confirmation_says_how_many_and_which_mailings_lose_them(user_client, user, many):
    buyers = Client.objects.filter(owner=user, full_name__startswith="Покупатель")
    make_mailing(owner=user, subject="Выбранным", clients=buyers[:2])
    by_tag = make_mailing(owner=user, subject="По тегу")
    by_tag.tags.add(make_tag(owner=user, name="VIP", clients=buyers[5:6]))
    make_mailing(
        owner=user,
        subject="Поставщикам",
        clients=Client.objects.filter(email="client1000@example.com"),
    )

    response = bulk(user_client, "delete", confirm=False, scope="matching", filter="q=Покупатель")

    assert response.context["count"] == MATCHING
    assert response.context["mailing_count"] == 2
    assert {m.message.subject for m in response.context["mailings"]} == {"Выбранным", "По тегу"}
    assert f"{MATCHING} clients are selected." in response.text
    assert Client.objects.filter(owner=user).count() == MATCHING + 5  # nothing yet


def test_deleting_all_matching_leaves_the_rest(user_client, user, other_user, many):
    make_client(owner=other_user, email="theirs@example.com", full_name="Покупатель чужой")

    response = bulk(user_client, "delete", scope="matching", filter="q=покупатель", htmx=False)

    assert response.status_code == 302
    assert unquote(response.url) == reverse("client-list") + "?q=покупатель"
    assert Client.objects.filter(owner=user).count() == 5
    assert Client.objects.filter(owner=other_user).count() == 1


def test_ticked_rows_are_untagged_and_added_to_a_mailing(user_client, user):
    first, second, third = make_clients(owner=user, count=3)
    vip = make_tag(owner=user, name="VIP", clients=[first, second, third])
    mailing = make_mailing(owner=user, clients=[third])
    pks = [first.pk, second.pk]

    bulk(user_client, "untag", pk=pks, tags=[vip.pk])
    bulk(user_client, "add-to-mailing", pk=pks, mailing=mailing.pk)

    assert list(vip.clients.all()) == [third]
    assert set(mailing.clients.all()) == {first, second, third}


def test_another_users_clients_are_never_acted_on(user_client, user, other_user):
    theirs = make_client(owner=other_user, email="theirs@example.com")
    mine = make_client(owner=user, email="mine@example.com")

    response = bulk(user_client, "delete", pk=[theirs.pk, mine.pk])
    their_mailing = make_mailing(owner=other_user)
    refused = bulk(user_client, "add-to-mailing", pk=[mine.pk], mailing=their_mailing.pk)

    assert response.status_code == 204
    assert list(Client.objects.all()) == [theirs]
    assert refused.status_code == 200  # the form's error: no such mailing of the user
    assert not Mailing.objects.get(pk=their_mailing.pk).clients.exists()


def test_nothing_selected_or_a_malformed_filter_does_nothing(user_client, user):
    make_clients(owner=user, count=2)

    empty = bulk(user_client, "delete")
    malformed = bulk(user_client, "delete", scope="matching", filter="state=nonexistent")
    unknown = bulk(user_client, "explode", pk=["1"])

    assert "No clients are selected" in empty.text
    assert malformed.status_code == unknown.status_code == 400
    assert Client.objects.filter(owner=user).count() == 2


def test_the_list_has_the_bulk_form_with_checkboxes_and_the_count(user_client, user, many):
    response = user_client.get(reverse("client-list"), {"q": "поставщик"})

    assert 'id="client-bulk"' in response.text
    assert response.text.count('form="client-bulk"') == 5
    assert "All 5 clients matching the filter" in response.text
    assert 'name="filter" value="q=%D0%BF%D0%BE%D1%81%D1%82%D0%B0%D0%B2%D1%89%D0%B8%D0%BA"' in (
        response.text
    )


def test_the_client_form_creates_tags_on_the_fly_and_the_table_shows_them(user_client, user):
    make_tag(owner=user, name="VIP")
    user_client.post(
        reverse("client-create"),
        {"email": "a@example.com", "full_name": "Анна", "tags": " vip ,Новые  клиенты, VIP"},
    )
    client = Client.objects.get(email="a@example.com")

    assert sorted(t.name for t in client.tags.all()) == ["VIP", "Новые клиенты"]
    page = user_client.get(reverse("client-list"))
    assert 'data-tag="новые клиенты"' in page.text
    tag = client.tags.get(key="vip")
    filtered = user_client.get(reverse("client-list"), {"tag": tag.pk})
    assert filtered.context["table"].paginator.count == 1
