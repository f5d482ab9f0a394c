"""The benchmarks still run: each one's `--quick` smoke mode, as a process, prints its figures.

Their figures are not checked (tiny volumes measure nothing); the point is that a change in
the schema or the engine that breaks a benchmark breaks the suite too.
"""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BENCH = Path(settings.BASE_DIR) / "bench"


# The timeouts only catch a benchmark that hangs: a loaded machine (a CI runner, other work)
# can take several times an idle one's minute or two.
def run_quick(script: str, *, timeout: float = 600, **environment: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_dashboard_benchmark_runs_and_prints_its_table():
    # Longer than the others: it starts the production server and, twice, a sender beside it.
    output = run_quick("dashboard.py", timeout=1200)

    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("page"))
    assert header.split() == ["page", "small", "ms", "large", "ms", "ratio", "queries"]
    for page in (
        "full page",
        "poll (every live part)",
        "poll, nothing changed",
        "runs table, filtered",
        "client list",
    ):
        assert any(line.startswith(page) for line in lines), output
    assert "server CPU per request, ms: median (10th-90th percentile)" in output
    assert "full page, 2 users" in output
    assert "poll, nothing changed, 2 users" in output
    for page in ("full page", "poll, nothing changed"):
        runs = [line.split() for line in output.splitlines() if line.startswith(f"{page}, 2 users")]
        assert [run[run.index("users") + 1] for run in runs] == ["without", "with"], output
        assert float(runs[1][-1]) > 0, output  # the letters per second of the send beside it


def test_the_sending_benchmark_runs_and_prints_its_figures(tmp_path):
    # A database of its own: the benchmark flushes the one DATABASE_URL names.
    output = run_quick("sending.py", DATABASE_URL=f"sqlite:///{tmp_path / 'bench.sqlite3'}")

    assert "load average at the start:" in output
    for letter in ("Cyrillic", "ASCII"):
        assert f"{letter} letter, 2 rounds" in output
    assert output.count("ratio engine / Django:") == 2
    assert "ceiling, prebuilt bytes:" in output
    assert "ratio engine / ceiling:" in output
    assert "ratio 8 / 1 connections:" in output
    assert "heap peak ratio" in output
    assert "load average at the end:" in output


def test_the_clients_benchmark_runs_and_prints_its_figures():
    output = run_quick("clients.py")

    assert "load average at the start:" in output
    header = next(line for line in output.splitlines() if line.startswith("measurement"))
    assert header.split() == ["measurement", "median", "ms", "min-max", "ms"]
    for name in ("search: common name", "picker request", "tag mailing opens its run"):
        assert any(line.startswith(name) for line in output.splitlines()), output
    assert "'ledger' 1,000" in output


def test_the_import_benchmark_runs_and_prints_its_table():
    output = run_quick("imports.py")

    lines = output.splitlines()
    header = next(line for line in lines if line.strip().startswith("rows"))
    assert header.split() == ["rows", "MB", "preview", "s", "commit", "s", "peak", "MB"]
    assert "200 rows: preview {'new': 178, 'duplicate': 20, 'existing': 0, 'invalid': 2}" in output
    assert "added 1780, updated 0, skipped 200, refused 20" in output


def test_the_sharing_benchmark_runs_and_prints_its_figures(tmp_path):
    output = run_quick("sharing.py", DATABASE_URL=f"sqlite:///{tmp_path / 'bench.sqlite3'}")

    assert "load average at the start:" in output
    for processes in (1, 2, 4):
        assert f"   {processes} process(es):" in output
    assert "ratio 4 / 1 processes:" in output
    assert "load average at the end:" in output
