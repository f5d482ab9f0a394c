"""How the dashboard's time grows with the history: 1,000 runs against 100,000.

    .venv/bin/python bench/dashboard.py            # both volumes, then the ratio
    .venv/bin/python bench/dashboard.py --rebuild  # regenerate the databases first
    .venv/bin/python bench/dashboard.py --quick    # smoke run: tiny volumes, throwaway databases

Each volume gets a SQLite database of its own under var/bench/ (built once, reused after):
one user with 50 mailings to 200 clients, each run sending to 10 of them, the runs spread
evenly over the last 365 days (so the 30-day chart covers a twelfth of them at any volume),
9 letters in 10 accepted. The small volume has 1,000 runs and 10,000 deliveries, the large one
100,000 and 1,000,000. The user owns every row: the worst case for their page.

Each page is requested through Django's test client (middleware, views, templates, the real
database), warmed up, then timed `--repeat` times; the median is printed with the number of
queries, and the machine's load average at the start and the end. To measure PostgreSQL
instead, set BENCH_DATABASE_URL to a URL whose database name holds `{volume}`, e.g.
postgres://u:p@127.0.0.1:5432/bench_{volume} (the databases must exist; they are emptied and
filled).

Each page's server CPU time is time.process_time() around the request (which runs in this
process): its median and 10th-90th percentiles. At the large volume the production server
(bin/serve, as `make run` starts it; WEB_CONCURRENCY and WEB_THREADS apply) then serves 8 and 32
concurrent users (`--users`, `--seconds` each run): requests per second, p50 and p95.

`--quick` checks that the benchmark still runs (tests/test_bench_smoke.py does it): volumes of
20 and 200 runs in SQLite databases of a temporary directory, one timed request per page, two
users for a moment. Its figures measure nothing.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VOLUMES = {"small": (1_000, 10_000), "large": (100_000, 1_000_000)}
QUICK_VOLUMES = {"small": (20, 200), "large": (200, 2_000)}
MAILINGS = 50
CLIENTS = 200
RECIPIENTS_PER_RUN = 10
HISTORY_DAYS = 365
POLL = {"HX-Request": "true", "HX-Trigger": "dashboard-poll"}
# A poll asked with the ETag of the previous answer: "unchanged" answers 304 (nothing rendered).
UNCHANGED = "If-None-Match"
PAGES = {
    "full page": ("/", {}),
    "poll (every live part)": ("/", POLL),
    "poll, nothing changed": ("/", POLL | {UNCHANGED: ""}),
    "runs table, filtered": (
        "/?status=failure&sort=-attempted_at",
        {"HX-Request": "true", "HX-Target": "attempt-table"},
    ),
    "client list": ("/clients/", {}),
}
# The concurrent-users run: these pages against the production server (bin/serve).
CONCURRENT_PAGES = {
    "full page": PAGES["full page"],
    "poll, nothing changed": PAGES["poll, nothing changed"],
}
USERS = (8, 32)
FAILURE_REPLIES = ["550 5.1.1 No such user", "552 Mailbox full", "421 Try again later"]


def database_url(volume: str, *, directory: Path | None) -> str:
    """Where a volume's database is: `directory` (a quick run's), BENCH_DATABASE_URL, or
    var/bench/."""
    if directory is None:
        url = os.environ.get("BENCH_DATABASE_URL")
        if url:
            return url.format(volume=volume)
        directory = BASE_DIR / "var" / "bench"
        directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / f'dashboard-{volume}.sqlite3'}"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


ATTEMPT_COLUMNS = (
    "id",
    "mailing_id",
    "attempted_at",
    "status",
    "server_response",
    "slot_at",
    "finished_at",
    "accepted_count",
    "failed_count",
    "pending_count",
)
DELIVERY_COLUMNS = (
    "attempt_id",
    "mailing_id",
    "owner_id",
    "client_id",
    "email",
    "status",
    "reply",
    "tries",
    "sent_at",
)


def insert_rows(cursor, model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT `rows` of `columns` in bulk; every other column gets its field's default.

    Raw SQL, because the ORM takes minutes over a million rows; the defaults come from the
    model, so a column added later with a default (as the lease and resume columns were) does
    not break the builder.
    """
    from django.db import connection

    rest = [
        field
        for field in model._meta.concrete_fields
        if field.column not in columns and not field.primary_key
    ]
    defaults = tuple(field.get_db_prep_save(field.get_default(), connection) for field in rest)
    names = [*columns, *(field.column for field in rest)]
    quote = connection.ops.quote_name
    cursor.executemany(
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, names))})"
        f" VALUES ({', '.join(['%s'] * len(names))})",
        [row + defaults for row in rows],
    )


def build(attempt_total: int, delivery_total: int) -> None:
    """Fill the database with one user's history of the given size, in bulk."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.models import Attempt, Client, Delivery, Mailing, Message, User

    rng = random.Random(4)
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    per_run = delivery_total // attempt_total
    with transaction.atomic():
        for model in (Delivery, Attempt, Mailing, Message, Client, User):
            model.objects.all().delete()
        user = User.objects.create_user(email="bench@example.com", password="bench")
        clients = Client.objects.bulk_create(
            Client(owner=user, email=f"client{n}@example.com", full_name=f"Client {n}")
            for n in range(CLIENTS)
        )
        mailings = []
        for n in range(MAILINGS):
            message = Message.objects.create(owner=user, subject=f"Newsletter {n}", body="Hello")
            mailings.append(
                Mailing.objects.create(
                    owner=user,
                    message=message,
                    start_at=now - timedelta(days=HISTORY_DAYS),
                    end_at=now + timedelta(days=30 + n),
                    status=Mailing.Status.RUNNING,
                    next_run_at=now + timedelta(hours=n + 1),
                )
            )
        step = timedelta(days=HISTORY_DAYS) / attempt_total
        with connection.cursor() as cursor:
            attempt_rows, delivery_rows = [], []
            for index in range(attempt_total):
                mailing = mailings[index % MAILINGS]
                at = now - timedelta(days=HISTORY_DAYS) + step * index
                running = index >= attempt_total - 3
                outcomes = []
                for k in range(per_run):
                    client = clients[(index * 7 + k) % CLIENTS]
                    if running and k % 2:
                        outcomes.append((client, "pending", "", None))
                    elif rng.random() < 0.9:
                        outcomes.append((client, "accepted", "250 OK", at + timedelta(seconds=k)))
                    else:
                        reply = rng.choice(FAILURE_REPLIES)
                        outcomes.append((client, "failed", reply, at + timedelta(seconds=k)))
                accepted = sum(1 for o in outcomes if o[1] == "accepted")
                failed = sum(1 for o in outcomes if o[1] == "failed")
                status = "running" if running else ("success" if accepted else "failure")
                attempt_id = index + 1
                attempt_rows.append(
                    (
                        attempt_id,
                        mailing.pk,
                        adapt(at),
                        status,
                        "" if accepted else "Every recipient was refused",
                        adapt(at),
                        None if running else adapt(at + timedelta(seconds=per_run)),
                        accepted,
                        failed,
                        per_run - accepted - failed,
                    )
                )
                for client, outcome, reply, sent_at in outcomes:
                    delivery_rows.append(
                        (
                            attempt_id,
                            mailing.pk,
                            user.pk,
                            client.pk,
                            client.email,
                            outcome,
                            reply,
                            0 if outcome == "pending" else 1,
                            adapt(sent_at) if sent_at else None,
                        )
                    )
                if len(delivery_rows) >= 50_000 or index == attempt_total - 1:
                    insert_rows(cursor, Attempt, ATTEMPT_COLUMNS, attempt_rows)
                    insert_rows(cursor, Delivery, DELIVERY_COLUMNS, delivery_rows)
                    attempt_rows, delivery_rows = [], []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('core_attempt', 'id'), MAX(id))"
                " FROM core_attempt"
            )
            # What autovacuum does soon after a bulk load: statistics and the visibility map
            # (without which no index-only scan is possible).
            cursor.execute("VACUUM ANALYZE")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(repeat: int) -> dict:
    """Each page's median wall time, its server CPU time (median, 10th and 90th percentiles:
    time.process_time around the request, which runs in this process) and its query count."""
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from core.models import Attempt, Delivery, User

    client = HttpClient()
    client.force_login(User.objects.get(email="bench@example.com"))
    results = {
        "attempts": Attempt.objects.count(),
        "deliveries": Delivery.objects.count(),
        "pages": {},
    }
    for name, (url, headers) in PAGES.items():
        expected = 200
        if UNCHANGED in headers:
            etag = client.get(url, headers={k: v for k, v in headers.items() if k != UNCHANGED})
            headers = headers | {UNCHANGED: etag["ETag"]}
            expected = 304
        for _ in range(3):
            assert client.get(url, headers=headers).status_code == expected
        timings, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, headers=headers)
            cpu.append((time.process_time() - started_cpu) * 1000)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == expected
        with CaptureQueriesContext(connection) as queries:
            client.get(url, headers=headers)
        results["pages"][name] = {
            "median_ms": statistics.median(timings),
            "max_ms": max(timings),
            "cpu_ms": statistics.median(cpu),
            "cpu_p10_ms": percentile(cpu, 0.1),
            "cpu_p90_ms": percentile(cpu, 0.9),
            "queries": len(queries),
        }
    return results


def one_user(
    port: int, url: str, headers: dict, deadline: float, latencies: list, errors: list
) -> None:
    """A user asking for `url` again and again on one keep-alive connection until `deadline`."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("GET", url, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status not in (200, 304):
            errors.append(response.status)
    connection.close()


def concurrent_users(database: str, *, users: tuple[int, ...], seconds: float) -> dict:
    """Requests per second and latency percentiles of `users` simultaneous users against the
    production server, started as `make run` starts it (bin/serve) on a free port.

    Each user is a thread on a keep-alive connection asking for a page again as soon as the
    last answer came. The users run in this process, on the same machine as the server: on a
    small machine they take CPU from it, so the figures are a floor.
    """
    import http.client
    import socket
    import threading

    from django.conf import settings
    from django.test import Client as HttpClient

    from core.models import User

    client = HttpClient()
    client.force_login(User.objects.get(email="bench@example.com"))
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database,
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_BIND": f"127.0.0.1:{port}",
        "PYTHON": sys.executable,
    }
    server = subprocess.Popen(
        [str(BASE_DIR / "bin" / "serve")],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = {"workers": os.environ.get("WEB_CONCURRENCY", "2 (default)"), "runs": {}}
    try:
        for line in server.stderr:
            if "Listening at:" in line:
                break
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()

        def ask(connection, url: str, headers: dict) -> int:
            connection.request("GET", url, headers=headers | {"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            return response.status

        for name, (url, headers) in CONCURRENT_PAGES.items():
            warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if UNCHANGED in headers:
                warm.request("GET", url, headers=POLL | {"Cookie": cookie})
                answer = warm.getresponse()
                answer.read()
                headers = headers | {UNCHANGED: answer.getheader("ETag")}
            for _ in range(3):
                ask(warm, url, headers)
            warm.close()
            for count in users:
                latencies: list[float] = []
                errors = []
                deadline = time.perf_counter() + seconds

                started = time.perf_counter()
                threads = [
                    threading.Thread(
                        target=one_user,
                        args=(port, url, headers | {"Cookie": cookie}, deadline, latencies, errors),
                    )
                    for _ in range(count)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
                results["runs"][f"{name}, {count} users"] = {
                    "rps": len(latencies) / elapsed,
                    "p50_ms": percentile(latencies, 0.5),
                    "p95_ms": percentile(latencies, 0.95),
                    "errors": len(errors),
                }
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def run_volume(volume: str, args: argparse.Namespace, *, directory: Path | None) -> dict:
    """One volume in a process of its own: Django is set up once per process, per database."""
    command = [sys.executable, __file__, "--volume", volume, "--repeat", str(args.repeat)]
    command += ["--database", database_url(volume, directory=directory)]
    if args.rebuild:
        command.append("--rebuild")
    if args.quick:
        command.append("--quick")
    if volume == "large" and args.users:
        command += ["--users", args.users, "--seconds", str(args.seconds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=BASE_DIR)
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure_volume(volume: str, args: argparse.Namespace) -> None:
    """In the child process: build the volume's database if needed, print its figures (JSON)."""
    setup_django(args.database)
    from django.core.management import call_command

    from core.models import Delivery

    call_command("migrate", verbosity=0)
    attempts, deliveries = (QUICK_VOLUMES if args.quick else VOLUMES)[volume]
    if args.rebuild or Delivery.objects.count() != deliveries:
        started = time.perf_counter()
        build(attempts, deliveries)
        print(f"built {volume} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    results = measure(args.repeat)
    if args.users:
        users = tuple(int(count) for count in args.users.split(","))
        results["concurrent"] = concurrent_users(args.database, users=users, seconds=args.seconds)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the databases")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny volumes, throwaway databases"
    )
    parser.add_argument(
        "--users",
        default=",".join(map(str, USERS)),
        help="concurrent users against the production server, at the large volume ('' : none)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each users' run")
    parser.add_argument("--volume", choices=VOLUMES, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.volume:
        measure_volume(args.volume, args)
        return

    print(f"load average at the start: {load_average()}")
    if args.quick:
        args.repeat = 1
        args.seconds = 0.3
        args.users = "2" if args.users else ""
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as directory:
            results = {
                volume: run_volume(volume, args, directory=Path(directory)) for volume in VOLUMES
            }
        print("quick smoke run: tiny volumes, one request per page; the figures measure nothing")
    else:
        results = {volume: run_volume(volume, args, directory=None) for volume in VOLUMES}
    small, large = results["small"], results["large"]
    print(
        f"small: {small['attempts']:,} runs, {small['deliveries']:,} deliveries; "
        f"large: {large['attempts']:,} runs, {large['deliveries']:,} deliveries"
    )
    print(f"{'page':<26}{'small ms':>10}{'large ms':>10}{'ratio':>8}{'queries':>10}")
    for name in PAGES:
        s, g = small["pages"][name], large["pages"][name]
        ratio = g["median_ms"] / s["median_ms"]
        queries = f"{s['queries']}/{g['queries']}"
        print(f"{name:<26}{s['median_ms']:>10.1f}{g['median_ms']:>10.1f}{ratio:>8.2f}{queries:>10}")
    print()
    print("server CPU per request, ms: median (10th-90th percentile)")
    print(f"{'page':<26}{'small':>20}{'large':>20}")
    for name in PAGES:
        s, g = small["pages"][name], large["pages"][name]
        cells = [f"{p['cpu_ms']:.1f} ({p['cpu_p10_ms']:.1f}-{p['cpu_p90_ms']:.1f})" for p in (s, g)]
        print(f"{name:<26}{cells[0]:>20}{cells[1]:>20}")
    if "concurrent" in large:
        concurrent = large["concurrent"]
        print()
        print(f"production server (bin/serve, {concurrent['workers']} workers), large volume:")
        print(f"{'run':<36}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
        for name, run in concurrent["runs"].items():
            print(
                f"{name:<36}{run['rps']:>8.1f}{run['p50_ms']:>9.1f}{run['p95_ms']:>9.1f}"
                f"{run['errors']:>8}"
            )
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
