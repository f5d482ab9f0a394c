"""Accounts that signed in before verification existed count as verified; the Managers group."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import F

MANAGERS = "Managers"
# What a manager may do beyond a user (see core.permissions), and read the audit log.
MANAGER_PERMISSIONS = [
    "oversee",
    "block_user",
    "disable_mailing",
    "set_quota",
    "view_auditentry",
]


def verify_existing_users(apps, schema_editor):
    User = apps.get_model("core", "User")
    User.objects.filter(email_verified_at__isnull=True).update(email_verified_at=F("date_joined"))


def create_managers_group(apps, schema_editor):
    # Permissions are made after migrations; this one needs them now.
    app_config = apps.get_app_config("core")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MANAGERS)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="core", codename__in=MANAGER_PERMISSIONS
        )
    )


def delete_managers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MANAGERS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_administration"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(verify_existing_users, migrations.RunPython.noop),
        migrations.RunPython(create_managers_group, delete_managers_group),
    ]
