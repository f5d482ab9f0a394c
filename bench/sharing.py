"""Benchmark of one run shared by several sender processes: 1, 2 and 4 `send_mailings`
processes on one run of N recipients, against a sink that waits 20 ms per letter, each process
with EMAIL_CONCURRENCY=8 connections.

    DATABASE_URL=postgres://... .venv/bin/python bench/sharing.py               # README figures
    DATABASE_URL=postgres://... .venv/bin/python bench/sharing.py --n 100000 --rounds 1
    .venv/bin/python bench/sharing.py --quick      # smoke run: tiny N; figures measure nothing

It uses its own database (var/bench.sqlite3 by default, recreated; with DATABASE_URL, that
database, which it flushes) and the sink of bench/sending.py in a process of its own. Rounds
are interleaved (1, 2, 4 processes, then again), each on a new mailing of N clients (made
untimed), so a change in the machine's load hits every count of processes alike; each figure
is the median of the rounds with their min-max. The time is from the first process's start to
the last one's exit, process start-up included. The first process opens the run (the "send
now" run, taken with `--attempt`); the others start once it holds the run, and join it.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.sending import Sink, load_average, make_mailing, setup_django, spread  # noqa: E402

CONNECTIONS = 8
DELAY = 0.02
PROCESSES = (1, 2, 4)


def children_cpu() -> float:
    """CPU seconds (user + system) of the sender processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sender(attempt_id: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "send_mailings",
            "--attempt",
            str(attempt_id),
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def shared_run(*, count: int, processes: int, port: int) -> tuple[float, float]:
    """Seconds for `processes` senders to send one run of `count`, and their CPU seconds."""
    from core.models import Attempt
    from core.services.sending import mailing_send_start

    mailing = make_mailing(count)  # not timed
    attempt = mailing_send_start(mailing=mailing)
    env = os.environ | {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT": "30",
        "EMAIL_CONCURRENCY": str(CONNECTIONS),
        "SENDING_LEASE_SECONDS": "30",
    }
    cpu_before = children_cpu()
    started = time.perf_counter()
    senders = [sender(attempt.pk, env)]
    if processes > 1:
        # The holder took the run and cut its batches; the others join it.
        while not Attempt.objects.filter(pk=attempt.pk).exclude(lease_token="").exists():
            if senders[0].poll() is not None:
                break
            time.sleep(0.02)
        senders += [sender(attempt.pk, env) for _ in range(processes - 1)]
    outputs = [process.communicate()[0] for process in senders]
    elapsed = time.perf_counter() - started
    if any(process.returncode for process in senders):
        raise SystemExit("a sender failed:\n" + "\n".join(outputs))
    attempt.refresh_from_db()
    if (attempt.status, attempt.accepted_count) != ("success", count):
        raise SystemExit(
            f"the run ended {attempt.status} with {attempt.accepted_count}:\n{outputs}"
        )
    return elapsed, children_cpu() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="recipients of the run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny N, one round; figures measure nothing"
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 1200, 1

    setup_django(fresh=True)
    database = os.environ["DATABASE_URL"].split("://")[0]
    print(f"database: {database}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"load average at the start: {load_average()}")
    if args.quick:
        print("quick smoke run: tiny N, one round; the figures measure nothing")
    print(
        f"\nOne run of N={args.n:,} shared by 1, 2 and 4 send_mailings processes, "
        f"{CONNECTIONS} connections each, a sink that waits {DELAY * 1000:.0f} ms per letter; "
        f"{args.rounds} interleaved rounds, median (min-max):"
    )
    rates: dict[int, list[float]] = {n: [] for n in PROCESSES}
    cpu: dict[int, list[float]] = {n: [] for n in PROCESSES}
    with Sink(delay=DELAY) as sink:
        for _round in range(args.rounds):
            for processes in PROCESSES:
                elapsed, seconds = shared_run(count=args.n, processes=processes, port=sink.port)
                rates[processes].append(args.n / elapsed)
                cpu[processes].append(seconds / args.n * 1e6)
    ceiling = CONNECTIONS / DELAY
    for processes in PROCESSES:
        ratios = [rate / one for rate, one in zip(rates[processes], rates[1], strict=True)]
        print(
            f"   {processes} process(es): {spread(rates[processes])} letters/s"
            f"   x{spread(ratios, digits=2)}   senders' CPU {spread(cpu[processes])} us/letter"
            f"   (ceiling {processes * ceiling:,.0f}/s)"
        )
    final = [rate / one for rate, one in zip(rates[4], rates[1], strict=True)]
    print(f"   ratio 4 / 1 processes: {spread(final, digits=2)}   (target >= 3.5)")
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
