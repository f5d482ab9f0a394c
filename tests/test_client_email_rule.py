"""The duplicate-email rule lives in the database: case and spaces never make a second client."""

import pytest
from django.db import IntegrityError, connection, transaction

from core.models import Client


@pytest.mark.django_db
def test_email_is_stored_trimmed_and_lower_case(user):
    client = Client.objects.create(owner=user, email="  Anna.Smith@Example.COM ", full_name="Anna")

    client.refresh_from_db()
    assert client.email == "anna.smith@example.com"


@pytest.mark.django_db
def test_duplicate_email_differing_in_case_and_spaces_is_refused_for_one_owner(user):
    Client.objects.create(owner=user, email="anna@example.com", full_name="Anna")

    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(owner=user, email="Anna@Example.com ", full_name="Anna again")

    assert Client.objects.filter(owner=user).count() == 1


@pytest.mark.django_db
def test_same_email_is_allowed_for_two_owners(user, other_user):
    Client.objects.create(owner=user, email="anna@example.com", full_name="Anna")
    Client.objects.create(owner=other_user, email="ANNA@example.com", full_name="Anna")

    assert Client.objects.filter(email="anna@example.com").count() == 2


@pytest.mark.django_db
def test_database_refuses_a_non_normalised_email_written_around_the_orm(user):
    Client.objects.create(owner=user, email="anna@example.com", full_name="Anna")
    table = Client._meta.db_table

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner_id, email, full_name, comment, created_at, updated_at) "
            "VALUES (%s, %s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [user.pk, " Anna@Example.com", "Anna raw"],
        )

    assert Client.objects.filter(owner=user).count() == 1


@pytest.mark.django_db
def test_lookup_by_email_finds_the_client_whatever_the_case(user):
    Client.objects.create(owner=user, email="anna@example.com", full_name="Anna")

    assert Client.objects.filter(owner=user, email=" ANNA@example.com").exists()
