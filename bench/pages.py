"""The dashboard's and the client list's server CPU, this tree against another commit, side by
side in one run.

    .venv/bin/python bench/pages.py                      # against where this branch left main
    .venv/bin/python bench/pages.py --before HEAD~3 --rounds 25

Two worker processes serve the pages through Django's test client from the same database (the
large volume of bench/dashboard.py: 100,000 runs, 1,000,000 letters; built there if missing):
one runs this working tree, the other the `--before` commit (extracted with `git archive` into
a temporary directory) on a copy of the database taken back to that commit's migrations, so
each side reads the indexes its own code declares. Each round asks every page `--per-round`
times of each worker, in a random order of the two, so a burst of load on a shared machine hits
both alike. Each request's server CPU is time.process_time() around it, in the worker.
Printed: the median and min-max per page and side, the query count, and the load average at
the start and the end.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
POLL = {"HX-Request": "true", "HX-Trigger": "dashboard-poll"}
# Asked with the ETag of the previous answer: "nothing changed" answers 304.
UNCHANGED = "If-None-Match"
PAGES = {
    "full page": ("/", {}),
    "poll, something changed": ("/", POLL),
    "poll, nothing changed": ("/", POLL | {UNCHANGED: ""}),
    "runs table, filtered": (
        "/?status=failure&sort=-attempted_at",
        {"HX-Request": "true", "HX-Target": "attempt-table"},
    ),
    "client list": ("/clients/", {}),
}


def serve(tree: Path, database: str) -> None:
    """In a worker: the code of `tree`, one request per page name read on stdin, its figures
    written on stdout as one JSON line."""
    sys.path[:] = [str(tree)] + [p for p in sys.path if Path(p).resolve() != BASE_DIR / "bench"]
    os.chdir(tree)
    os.environ["DATABASE_URL"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from core.models import User

    client = HttpClient()
    client.force_login(User.objects.get(email="bench@example.com"))
    pages = {}
    for name, (url, headers) in PAGES.items():
        if UNCHANGED in headers:
            first = client.get(url, headers={k: v for k, v in headers.items() if k != UNCHANGED})
            headers = headers | {UNCHANGED: first["ETag"]}
        for _ in range(3):
            client.get(url, headers=headers)
        with CaptureQueriesContext(connection) as queries:
            status = client.get(url, headers=headers).status_code
        pages[name] = (url, headers)
        print(json.dumps({"page": name, "queries": len(queries), "status": status}), flush=True)
    for line in sys.stdin:
        url, headers = pages[line.strip()]
        started = time.process_time()
        response = client.get(url, headers=headers)
        cpu = (time.process_time() - started) * 1000
        print(json.dumps({"cpu_ms": cpu, "status": response.status_code}), flush=True)


def extract(commit: str, directory: Path) -> Path:
    """The tree of `commit`, written under `directory`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=BASE_DIR, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def database_at(tree: Path, database: str, directory: Path) -> str:
    """A copy of the SQLite `database` migrated back to the newest migration of `tree`."""
    import sqlite3

    copy = directory / "before.sqlite3"
    source = sqlite3.connect(database.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    url = f"sqlite:///{copy}"
    latest = max(path.stem for path in (tree / "core" / "migrations").glob("0*.py"))
    environment = os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    command = [sys.executable, "manage.py", "migrate", "core", latest, "--verbosity", "0"]
    subprocess.run(command, check=True, cwd=BASE_DIR, env=environment, capture_output=True)
    return url


def start_worker(tree: Path, database: str) -> tuple[subprocess.Popen, dict]:
    worker = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(tree), "--database", database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready = {}
    for _ in PAGES:
        answer = json.loads(worker.stdout.readline())
        ready[answer["page"]] = answer
    return worker, ready


def ask(worker: subprocess.Popen, page: str) -> float:
    worker.stdin.write(page + "\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())["cpu_ms"]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def large_database() -> str:
    """The large volume's database of bench/dashboard.py, built by it if missing."""
    sys.path.insert(0, str(BASE_DIR))
    from bench.dashboard import database_url

    url = database_url("large", directory=None)
    command = [sys.executable, str(BASE_DIR / "bench" / "dashboard.py"), "--volume", "large"]
    command += ["--database", url, "--repeat", "1", "--users", ""]
    subprocess.run(command, check=True, capture_output=True, cwd=BASE_DIR)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--before", help="the commit to compare with (default: the merge base with main)"
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=2, help="requests per page and round")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve), args.database)
        return

    print(f"load average at the start: {load_average()}")
    database = large_database()
    if args.before is None:
        args.before = subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=BASE_DIR,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    before_commit = subprocess.run(
        ["git", "rev-parse", "--short", args.before],
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as directory:
        before_tree = extract(args.before, Path(directory) / "tree")
        before_database = database_at(before_tree, database, Path(directory))
        sides = {
            f"before ({before_commit})": start_worker(before_tree, before_database),
            "after (this tree)": start_worker(BASE_DIR, database),
        }
        cpu = {side: {page: [] for page in PAGES} for side in sides}
        try:
            for _ in range(args.rounds):
                for page in PAGES:
                    order = list(sides)
                    random.shuffle(order)
                    for side in order:
                        for _ in range(args.per_round):
                            cpu[side][page].append(ask(sides[side][0], page))
        finally:
            for worker, _ in sides.values():
                worker.stdin.close()
                worker.wait(timeout=30)
    print(
        f"server CPU per request, ms: median (min-max), {args.rounds} rounds x {args.per_round}"
        " requests, large volume; queries"
    )
    names = list(sides)
    print(f"{'page':<26}" + "".join(f"{name:>30}" for name in names) + f"{'after/before':>14}")
    for page in PAGES:
        cells, medians = [], []
        for side in names:
            values = cpu[side][page]
            median = statistics.median(values)
            medians.append(median)
            queries = sides[side][1][page]["queries"]
            cells.append(f"{median:.1f} ({min(values):.1f}-{max(values):.1f}) {queries}q")
        ratio = medians[1] / medians[0]
        print(f"{page:<26}" + "".join(f"{cell:>30}" for cell in cells) + f"{ratio:>14.2f}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
