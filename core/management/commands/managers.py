"""Put users into the "Managers" group, take them out, or list the managers."""

from django.core.management.base import BaseCommand, CommandError

from core.models import User
from core.services import administration


class Command(BaseCommand):
    help = 'Manage the "Managers" group: add EMAIL, remove EMAIL, or list.'

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        for name, text in (("add", "make a user a manager"), ("remove", "stop being one")):
            commands.add_parser(name, help=text).add_argument("email")
        commands.add_parser("list", help="the managers (superusers count as managers too)")

    def handle(self, *args, command: str, email: str = "", **options) -> None:
        if command == "list":
            for user in administration.manager_list():
                note = " (superuser)" if user.is_superuser else ""
                self.stdout.write(f"{user.email}{note}")
            return
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user has the email {email!r}.")
        if command == "add":
            administration.managers_add(user=user)
            self.stdout.write(self.style.SUCCESS(f"{user.email} is a manager."))
        else:
            administration.managers_remove(user=user)
            note = " (still one as a superuser)" if user.is_superuser else ""
            self.stdout.write(self.style.SUCCESS(f"{user.email} is no longer a manager{note}."))
