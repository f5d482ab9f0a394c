"""Client search in every language: a case-folded copy of email, full name and comment that
search compares with `contains`, and on PostgreSQL a trigram index that serves it."""

from django.db import migrations, models


def _search_text(email, full_name, comment):
    # core.models.client_search_text as of this migration (a migration never follows code).
    return "\n".join(((email or "").strip().lower(), full_name or "", comment or "")).casefold()


def fill_search_text(apps, schema_editor):
    Client = apps.get_model("core", "Client")
    batch = []
    rows = Client.objects.using(schema_editor.connection.alias).only(
        "email", "full_name", "comment"
    )
    for client in rows.iterator(chunk_size=2000):
        client.search_text = _search_text(client.email, client.full_name, client.comment)
        batch.append(client)
        if len(batch) == 2000:
            Client.objects.bulk_update(batch, ["search_text"])
            batch = []
    Client.objects.bulk_update(batch, ["search_text"])


TRIGRAM_INDEX = "client_search_text_trgm"


def trigram_index_create(apps, schema_editor):
    """PostgreSQL only: `LIKE '%term%'` on the column walks a GIN trigram index, not the table.
    SQLite has no such index; it scans the owner's rows (figures: bench/clients.py)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON core_client "
        "USING gin (search_text gin_trgm_ops)"
    )


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0013_run_term"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="search_text",
            field=models.TextField(default="", editable=False),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(trigram_index_create, trigram_index_drop),
    ]
