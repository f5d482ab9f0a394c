"""Create the demo account on first run and print its password once."""

import secrets

from django.core.management.base import BaseCommand

from core.models import User

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo account if it does not exist, printing its password once."

    def handle(self, *args, **options) -> None:
        if User.objects.filter(email=DEMO_EMAIL).exists():
            self.stdout.write(f"Demo account: {DEMO_EMAIL} (password shown when it was created)")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_user(email=DEMO_EMAIL, password=password, full_name="Demo")
        self.stdout.write(
            self.style.SUCCESS(f"Demo account created: {DEMO_EMAIL} / {password} (shown only once)")
        )
