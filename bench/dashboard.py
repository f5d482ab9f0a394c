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
concurrent users (`--users`, `--seconds` each run): requests per second, p50 and p95. Each run
is done twice, interleaved: without, then with a send running on the same database and machine
(`--send N`, 0 for none): a mailing of N recipients (default 200,000, added once to the large
database under a user of its own, so the measured user's pages answer the same rows in both) is
sent by `manage.py send_mailings --attempt ID` against an SMTP sink in a process of its own
(bench/sending.py's, answering each letter after `--send-delay` seconds), started before the
run and stopped with SIGTERM after it (a clean stop that releases the run: the next with-send
run resumes it; a finished run is followed by a new one). The letters per second the sender
achieved during the run are printed beside it.

`--quick` checks that the benchmark still runs (tests/test_bench_smoke.py does it): volumes of
20 and 200 runs in SQLite databases of a temporary directory, one timed request per page, two
users for a moment, with and without a send of 1,000 recipients. Its figures measure nothing.
"""

import argparse
import contextlib
import json
import os
import random
import signal
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
BENCH_USER = "bench@example.com"
# The mailing sent during the with-send runs belongs to a user of its own (see `send_mailing`).
SEND_USER = "bench-send@example.com"
SEND_RECIPIENTS = 200_000
QUICK_SEND_RECIPIENTS = 1_000
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
    from core.services.sending.tally import tally_rebuild

    rng = random.Random(4)
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    per_run = delivery_total // attempt_total
    with transaction.atomic():
        for model in (Delivery, Attempt, Mailing, Message, Client, User):
            model.objects.all().delete()
        user = User.objects.create_user(email=BENCH_USER, password="bench")
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
        # The ledger was written in bulk, past the engine: its tally is counted from it.
        tally_rebuild()
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
    client.force_login(User.objects.get(email=BENCH_USER))
    results = {
        # The measured user's: the database may also hold the with-send runs' mailing.
        "attempts": Attempt.objects.filter(mailing__owner__email=BENCH_USER).count(),
        "deliveries": Delivery.objects.filter(owner__email=BENCH_USER).count(),
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


def send_mailing(recipients: int):
    """The mailing sent during the with-send runs: `recipients` clients of a user of its own,
    made once (in bulk) and kept in the database for the next benchmark.

    Not the measured user's: their pages then answer the same rows with and without the send,
    so the difference is the machine's and the database's contention alone. It starts in ten
    years and has no next slot, so its "send now" run is never overtaken by a scheduled one.
    """
    from django.utils import timezone

    from core.models import Client, Mailing, Message, User

    mailing = Mailing.objects.filter(owner__email=SEND_USER).first()
    if mailing is not None and mailing.clients.count() == recipients:
        return mailing
    User.objects.filter(email=SEND_USER).delete()
    owner = User.objects.create_user(email=SEND_USER)
    message = Message.objects.create(
        owner=owner, subject="{{ first_name }}, our spring sale", body="Hello {{ full_name }}!"
    )
    later = timezone.now() + timedelta(days=3650)
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=later, end_at=later + timedelta(days=1)
    )
    through = Mailing.clients.through
    for start in range(0, recipients, 5000):
        clients = Client.objects.bulk_create(
            Client(owner=owner, email=f"send{n}@example.com", full_name=f"Recipient {n}")
            for n in range(start, min(recipients, start + 5000))
        )
        through.objects.bulk_create(
            through(mailing_id=mailing.pk, client_id=client.pk) for client in clients
        )
    return mailing


class SendRunning:
    """`manage.py send_mailings --attempt ID` sending the mailing's open run (a new one when
    the last has ended) while inside; on leaving, SIGTERM, which stops it cleanly and releases
    the run for the next time. `letters_per_second`: the letters accepted while inside.
    """

    def __init__(self, mailing, *, environment: dict[str, str]) -> None:
        self.mailing = mailing
        self.environment = environment

    def accepted(self) -> int:
        from core.models import Delivery

        return Delivery.objects.filter(
            attempt_id=self.attempt.pk, status=Delivery.Status.ACCEPTED
        ).count()

    def __enter__(self) -> "SendRunning":
        from core.models import Attempt
        from core.services.sending import mailing_send_start

        self.attempt = self.mailing.attempts.filter(
            status=Attempt.Status.RUNNING
        ).first() or mailing_send_start(mailing=self.mailing)
        before = self.accepted()
        command = [sys.executable, str(BASE_DIR / "manage.py"), "send_mailings"]
        self.process = subprocess.Popen(
            [*command, "--attempt", str(self.attempt.pk)],
            cwd=BASE_DIR,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Timed from its first accepted letter on: Django's start-up is not the send.
        while (count := self.accepted()) == before:
            if self.process.poll() is not None:
                raise SystemExit("the sender ended before sending:\n" + self.process.stdout.read())
            time.sleep(0.05)
        self.count, self.started = count, time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        self.letters_per_second = (self.accepted() - self.count) / (
            time.perf_counter() - self.started
        )
        self.process.send_signal(signal.SIGTERM)
        output = self.process.communicate(timeout=120)[0]
        if self.process.returncode != 0:
            raise SystemExit(f"the sender failed ({self.process.returncode}):\n{output}")


def concurrent_users(
    database: str,
    *,
    users: tuple[int, ...],
    seconds: float,
    send_recipients: int,
    send_delay: float,
) -> dict:
    """Requests per second and latency percentiles of `users` simultaneous users against the
    production server, started as `make run` starts it (bin/serve) on a free port.

    Each user is a thread on a keep-alive connection asking for a page again as soon as the
    last answer came. The users run in this process, on the same machine as the server: on a
    small machine they take CPU from it, so the figures are a floor. With `send_recipients`,
    each run is done without a send, then with one (`SendRunning`) against a sink in a
    process of its own that answers each letter after `send_delay` seconds.
    """
    import http.client
    import socket
    import threading

    from django.conf import settings
    from django.test import Client as HttpClient

    from core.models import User

    client = HttpClient()
    client.force_login(User.objects.get(email=BENCH_USER))
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
    modes = ["without"]
    sink_stack = contextlib.ExitStack()
    if send_recipients:
        from bench.sending import Sink

        mailing = send_mailing(send_recipients)
        sink = sink_stack.enter_context(Sink(delay=send_delay))
        sender_environment = os.environ | {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            # The send outlasts any user's daily quota.
            "DAILY_LETTER_QUOTA": str(10**9),
        }
        modes.append("with")
        results["send"] = {
            "recipients": send_recipients,
            "delay_ms": send_delay * 1000,
            "connections": os.environ.get("EMAIL_CONCURRENCY", "4 (default)"),
        }
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
                for mode in modes:
                    sending = (
                        SendRunning(mailing, environment=sender_environment)
                        if mode == "with"
                        else contextlib.nullcontext()
                    )
                    latencies: list[float] = []
                    errors = []
                    with sending:
                        started = time.perf_counter()
                        deadline = started + seconds
                        threads = [
                            threading.Thread(
                                target=one_user,
                                args=(
                                    port,
                                    url,
                                    headers | {"Cookie": cookie},
                                    deadline,
                                    latencies,
                                    errors,
                                ),
                            )
                            for _ in range(count)
                        ]
                        for thread in threads:
                            thread.start()
                        for thread in threads:
                            thread.join()
                        elapsed = time.perf_counter() - started
                    results["runs"].setdefault(f"{name}, {count} users", {})[mode] = {
                        "rps": len(latencies) / elapsed,
                        "p50_ms": percentile(latencies, 0.5),
                        "p95_ms": percentile(latencies, 0.95),
                        "errors": len(errors),
                        "letters_per_second": getattr(sending, "letters_per_second", None),
                    }
    finally:
        server.terminate()
        server.wait(timeout=30)
        sink_stack.close()
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
        command += ["--send", str(args.send), "--send-delay", str(args.send_delay)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=BASE_DIR)
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure_volume(volume: str, args: argparse.Namespace) -> None:
    """In the child process: build the volume's database if needed, print its figures (JSON)."""
    setup_django(args.database)
    from django.core.management import call_command

    from core.models import Delivery

    call_command("migrate", verbosity=0)
    attempts, deliveries = (QUICK_VOLUMES if args.quick else VOLUMES)[volume]
    # The measured user's deliveries: the with-send runs add a mailing of another user.
    if args.rebuild or Delivery.objects.filter(owner__email=BENCH_USER).count() != deliveries:
        started = time.perf_counter()
        build(attempts, deliveries)
        print(f"built {volume} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    results = measure(args.repeat)
    if args.users:
        users = tuple(int(count) for count in args.users.split(","))
        results["concurrent"] = concurrent_users(
            args.database,
            users=users,
            seconds=args.seconds,
            send_recipients=args.send,
            send_delay=args.send_delay,
        )
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
    parser.add_argument(
        "--send",
        type=int,
        default=SEND_RECIPIENTS,
        help="recipients of the mailing sent during each users' run's second round (0: no send)",
    )
    parser.add_argument(
        "--send-delay",
        type=float,
        default=0.0,
        help="seconds the sink waits before accepting each letter of that send",
    )
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
        args.send = min(args.send, QUICK_SEND_RECIPIENTS)
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
        if "send" in concurrent:
            send = concurrent["send"]
            print(
                f"each run without, then with a send of {send['recipients']:,} recipients running"
                f" (send_mailings, {send['connections']} connections, a sink answering after"
                f" {send['delay_ms']:.0f} ms)"
            )
        print(
            f"{'run':<32}{'send':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
            f"{'letters/s':>11}"
        )
        for name, modes in concurrent["runs"].items():
            for mode, run in modes.items():
                letters = run["letters_per_second"]
                letters = "" if letters is None else f"{letters:.0f}"
                print(
                    f"{name:<32}{mode:>8}{run['rps']:>8.1f}{run['p50_ms']:>9.1f}"
                    f"{run['p95_ms']:>9.1f}{run['errors']:>8}{letters:>11}"
                )
            if "with" in modes:
                ratio = modes["with"]["rps"] / modes["without"]["rps"]
                print(f"{'':<32}{'ratio':>8}{ratio:>8.2f}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
