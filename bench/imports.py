"""How an import of clients grows with its file: 10,000 rows against 100,000.

    .venv/bin/python bench/imports.py              # both sizes, 3 timed rounds each
    .venv/bin/python bench/imports.py --repeat 5
    .venv/bin/python bench/imports.py --quick      # smoke run: tiny files, one round

Each size runs in a process of its own, on a fresh SQLite database in a temporary directory
(BENCH_DATABASE_URL, with `{size}` in it, measures PostgreSQL instead; the database is emptied).
The file is a UTF-8 CSV of one user's clients in which 10 % of the rows repeat an earlier
address in another case and with spaces around it, and 1 % have no valid address; the user
has no clients yet. A round is the preview (core.services.imports.import_preview: read, check,
look the addresses up) and then the write (import_commit, batch by batch, as the background
task does), timed apart; the clients are deleted between rounds. The median of the rounds is
printed with their min-max, then one more round under tracemalloc gives each step's peak of
Python memory (tracemalloc slows it down, so it is not timed). The machine's load average is
printed at the start and the end.

`--quick` checks that the benchmark still runs (tests/test_bench_smoke.py does it): files of
200 and 2,000 rows, one round. Its figures measure nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SIZES = {"10k": 10_000, "100k": 100_000}
QUICK_SIZES = {"10k": 200, "100k": 2_000}


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("SITE_URL", "https://bench.example.com")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def file_content(rows: int) -> bytes:
    """`rows` rows: every tenth repeats an earlier address (other case, spaces), every
    hundredth (offset by 5) has no valid address, the rest are new."""
    lines = ["email,full name,comment"]
    for n in range(rows):
        if n % 100 == 5:
            lines.append(f"not-an-address-{n},Broken {n},")
        elif n % 10 == 9:
            lines.append(f"  CLIENT{n - 9}@Example.COM ,Client {n - 9} again,duplicate")
        else:
            lines.append(f"client{n}@example.com,Клиент {n},imported from the old tool")
    return ("\n".join(lines) + "\n").encode()


def measure(rows: int, repeat: int, directory: Path) -> dict:
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from core.models import Client, Import, User
    from core.services import imports

    call_command("migrate", verbosity=0)
    Import.objects.all().delete()
    Client.objects.all().delete()
    User.objects.filter(email="bench@example.com").delete()
    settings.IMPORT_DIR = directory / "imports"
    settings.IMPORT_MAX_BYTES = 1 << 30
    user = User.objects.create_user(email="bench@example.com", password="bench")
    content = file_content(rows)
    imp = imports.import_upload(owner=user, uploaded=SimpleUploadedFile("bench.csv", content))

    def round_trip() -> tuple[float, float, Import]:
        Client.objects.filter(owner=user).delete()
        Import.objects.filter(pk=imp.pk).update(status=Import.Status.UPLOADED)
        imp.refresh_from_db()
        started = time.perf_counter()
        imports.import_preview(imp=imp, mapping=imp.mapping)
        previewed = time.perf_counter()
        Import.objects.filter(pk=imp.pk).update(status=Import.Status.CONFIRMED)
        imports.import_commit(import_id=imp.pk)
        committed = time.perf_counter()
        return previewed - started, committed - previewed, Import.objects.get(pk=imp.pk)

    previews, commits = [], []
    for _round in range(repeat):
        preview_s, commit_s, done = round_trip()
        previews.append(preview_s)
        commits.append(commit_s)
    # One more round, traced: the peak of each step apart.
    Client.objects.filter(owner=user).delete()
    Import.objects.filter(pk=imp.pk).update(status=Import.Status.UPLOADED)
    imp.refresh_from_db()
    tracemalloc.start()
    imports.import_preview(imp=imp, mapping=imp.mapping)
    preview_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    Import.objects.filter(pk=imp.pk).update(status=Import.Status.CONFIRMED)
    imports.import_commit(import_id=imp.pk)
    commit_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rows": rows,
        "bytes": len(content),
        "preview": previews,
        "commit": commits,
        "preview_peak": preview_peak,
        "commit_peak": commit_peak,
        "counts": done.preview["counts"],
        "result": [done.added, done.updated, done.skipped, done.refused],
    }


def run_size(size: str, args: argparse.Namespace, directory: Path) -> dict:
    url = os.environ.get("BENCH_DATABASE_URL", "").format(size=size)
    url = url or f"sqlite:///{directory / f'imports-{size}.sqlite3'}"
    command = [sys.executable, __file__, "--size", size, "--repeat", str(args.repeat)]
    command += ["--database", url, "--directory", str(directory)]
    if args.quick:
        command.append("--quick")
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=BASE_DIR)
    return json.loads(output.stdout.strip().splitlines()[-1])


def seconds(timings: list[float]) -> str:
    return f"{statistics.median(timings):.2f} ({min(timings):.2f}-{max(timings):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per size")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny files, one round")
    parser.add_argument("--size", choices=SIZES, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size:
        setup_django(args.database)
        rows = (QUICK_SIZES if args.quick else SIZES)[args.size]
        print(json.dumps(measure(rows, args.repeat, Path(args.directory))))
        return

    print(f"load average at the start: {load_average()}")
    if args.quick:
        args.repeat = 1
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as directory:
        results = {size: run_size(size, args, Path(directory)) for size in SIZES}
    if args.quick:
        print("quick smoke run: tiny files, one round; the figures measure nothing")
    print(f"{'rows':>8}{'MB':>7}{'preview s':>22}{'commit s':>22}{'peak MB':>18}")
    for result in results.values():
        peaks = f"{result['preview_peak'] / 2**20:.1f} / {result['commit_peak'] / 2**20:.1f}"
        print(
            f"{result['rows']:>8}{result['bytes'] / 2**20:>7.1f}"
            f"{seconds(result['preview']):>22}{seconds(result['commit']):>22}{peaks:>18}"
        )
    for result in results.values():
        added, updated, skipped, refused = result["result"]
        print(
            f"{result['rows']} rows: preview {result['counts']}; "
            f"added {added}, updated {updated}, skipped {skipped}, refused {refused}"
        )
    small, large = (results[size] for size in SIZES)
    print(
        f"peak ratio {large['rows'] // small['rows']}x rows: preview "
        f"{large['preview_peak'] / small['preview_peak']:.2f}, commit "
        f"{large['commit_peak'] / small['commit_peak']:.2f}"
    )
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
