"""The engine's sentences stored before outcomes (core.outcomes), in English or Russian, turned
into the outcome they said, so that each reader sees them in their own language. A text that
is not one of them (a mail server's reply, a sentence reworded since) stays as it is and is
shown as it is."""

from django.db import migrations


def forwards(apps, schema_editor):
    from core.outcomes import legacy_outcome

    for model, column in (("Attempt", "server_response"), ("Delivery", "reply")):
        rows = apps.get_model("core", model).objects
        # One UPDATE per distinct text: a ledger repeats the same few replies many times.
        texts = rows.exclude(**{column: ""}).values_list(column, flat=True).distinct()
        for text in texts.iterator(chunk_size=2000):
            said = legacy_outcome(text)
            if said != text:
                rows.filter(**{column: text}).update(**{column: said})


class Migration(migrations.Migration):
    dependencies = [("core", "0016_heartbeat")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
