"""Client search at 100,000 clients, and a mailing to a tag of 50,000 opening its run.

    .venv/bin/python bench/clients.py            # 100,000 clients, 50,000 tagged
    .venv/bin/python bench/clients.py --rebuild  # regenerate the database first
    .venv/bin/python bench/clients.py --quick    # smoke run: tiny volume, throwaway database

One user owns every client (the worst case for their searches), in a SQLite database under
var/bench/ built once and reused; BENCH_DATABASE_URL measures PostgreSQL instead (the database
must exist; it is emptied and filled). Names are Russian first and last names drawn at random,
one client in five has a comment.

Measured in interleaved rounds (each round runs every measurement once, so a burst of load on
this shared machine hits them all alike), printed as median and min-max in milliseconds:
- the client list's search (`?q=`) as the list runs it: the count of matches and the first
  page of 25 by email, for a common Cyrillic name in lower case, a rare one, and part of an
  email;
- the mailing form's picker request (`/clients/search/?q=`), through Django's test client;
- opening the run of a mailing sent to a tag of half the clients: the ledger written (one
  INSERT ... SELECT), then rolled back so every round opens it afresh.
Targets: a search under 50 ms; the run opened in under 5 s.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FULL = (100_000, 50_000)
QUICK = (2_000, 1_000)
FIRST_NAMES = ["Иван", "Мария", "Олег", "Анна", "Пётр", "Елена", "Сергей", "Ольга", "Дмитрий"]
LAST_NAMES = ["Петров", "Иванова", "Сидоров", "Смирнова", "Кузнецов", "Попова", "Соколов"]
TERMS = {"common name": "иван", "rare name": "дмитрий соколов", "email part": "client4242"}


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def build(clients_total: int, tagged_total: int) -> None:
    """One user with `clients_total` clients, the first `tagged_total` tagged "VIP", and a
    mailing to that tag."""
    from django.db import transaction
    from django.utils import timezone

    from core.models import Client, Mailing, Message, Tag, User, client_search_text

    rng = random.Random(11)
    with transaction.atomic():
        for model in (Mailing, Message, Client, Tag, User):
            model.objects.all().delete()
        user = User.objects.create_user(email="bench@example.com", password="bench")
        batch = []
        for n in range(clients_total):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            comment = "Постоянный покупатель" if n % 5 == 0 else ""
            email = f"client{n}@example.com"
            batch.append(
                Client(
                    owner=user,
                    email=email,
                    full_name=name,
                    comment=comment,
                    search_text=client_search_text(email, name, comment),
                )
            )
        Client.objects.bulk_create(batch, batch_size=5000)
        tag = Tag.objects.create(owner=user, name="VIP")
        ids = Client.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True)
        through = Client.tags.through
        through.objects.bulk_create(
            (through(client_id=pk, tag_id=tag.pk) for pk in ids[:tagged_total]), batch_size=5000
        )
        now = timezone.now()
        message = Message.objects.create(owner=user, subject="Для VIP", body="Здравствуйте")
        mailing = Mailing.objects.create(
            owner=user,
            message=message,
            start_at=now,
            end_at=now + timezone.timedelta(days=30),
            next_run_at=None,
        )
        mailing.tags.add(tag)


def measurements(quick: bool) -> dict:
    """name -> a function that does the measured thing once."""
    from django.db import transaction
    from django.test import Client as HttpClient
    from django.utils import timezone

    from core import selectors
    from core.models import Mailing, User
    from core.services.sending.claims import attempt_open

    user = User.objects.get(email="bench@example.com")
    mailing = Mailing.objects.get(owner=user)
    browser = HttpClient()
    browser.force_login(user)
    found = {}

    def search(term):
        def run():
            matches = selectors.clients_matching(selectors.client_list(user=user), text=term)
            found[term] = matches.count()
            list(matches.order_by("email")[:25])

        return run

    def picker():
        response = browser.get("/clients/search/", {"q": "петров"})
        assert response.status_code == 200, response.status_code

    def run_open():
        with transaction.atomic():
            attempt = attempt_open(mailing=mailing, now=timezone.now(), slot_at=None)
            found["ledger"] = attempt.pending_count
            transaction.set_rollback(True)

    steps = {f"search: {label}": search(term) for label, term in TERMS.items()}
    steps["picker request"] = picker
    steps["tag mailing opens its run"] = run_open
    return steps, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny volume")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the database")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    clients_total, tagged_total = QUICK if args.quick else FULL
    rounds = 2 if args.quick else args.rounds
    temporary = tempfile.TemporaryDirectory() if args.quick else None
    if temporary is not None:
        url = f"sqlite:///{Path(temporary.name) / 'clients.sqlite3'}"
    else:
        directory = BASE_DIR / "var" / "bench"
        directory.mkdir(parents=True, exist_ok=True)
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{directory / 'clients.sqlite3'}"
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    from core.models import Client

    print(f"load average at the start: {load_average()}")
    call_command("migrate", verbosity=0)
    if args.rebuild or args.quick or Client.objects.count() != clients_total:
        started = time.perf_counter()
        build(clients_total, tagged_total)
        print(f"built {clients_total:,} clients in {time.perf_counter() - started:.1f} s")
    # The planner's statistics, as autovacuum (PostgreSQL) would gather them after such a load:
    # without them PostgreSQL scans instead of using the trigram index.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"{connection.vendor}, {clients_total:,} clients, {tagged_total:,} tagged, {rounds} rounds"
    )
    steps, found = measurements(args.quick)
    for step in steps.values():  # warm up
        step()
    timings = {name: [] for name in steps}
    for _round in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            timings[name].append((time.perf_counter() - started) * 1000)
    print(f"{'measurement':<30}{'median ms':>12}{'min-max ms':>20}")
    for name, values in timings.items():
        spread = f"{min(values):.1f}-{max(values):.1f}"
        print(f"{name:<30}{statistics.median(values):>12.1f}{spread:>20}")
    print("matches: " + ", ".join(f"{term!r} {count:,}" for term, count in found.items()))
    print(f"load average at the end: {load_average()}")
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
