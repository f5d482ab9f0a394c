
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0017_outcomes_from_legacy_texts'),
    ]

    operations = [
        migrations.CreateModel(
            name='MailServerRate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('server', models.CharField(max_length=300, unique=True)),
                ('tokens', models.FloatField(default=0.0)),
                ('refilled_at', models.DateTimeField()),
            ],
            options={
                'verbose_name': 'mail server rate',
                'verbose_name_plural': 'mail server rates',
            },
        ),
        migrations.CreateModel(
            name='RunBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_id', models.BigIntegerField()),
                ('last_id', models.BigIntegerField()),
                ('size', models.PositiveIntegerField(default=0)),
                ('lease_token', models.CharField(blank=True, max_length=32)),
                ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                ('done', models.BooleanField(default=False)),
                ('attempt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='core.attempt', verbose_name='run')),
            ],
            options={
                'verbose_name': 'run batch',
                'verbose_name_plural': 'run batches',
                'indexes': [models.Index(fields=['attempt', 'done'], name='runbatch_attempt_done')],
            },
        ),
    ]
