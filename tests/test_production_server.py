"""The production server as `make run` and the container start it: bin/serve (gunicorn), here
through the container's entrypoint (bin/entrypoint web), with DEBUG off and a SQLite database.

No container engine runs where the suite runs, so the image's entrypoint script is tested as a
process: it migrates, collects the static files and starts the server on a free port.
"""

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.ports import reserved_port

BASE_DIR = Path(settings.BASE_DIR)


@dataclass
class Server:
    url: str
    environment: dict[str, str]
    static_root: Path


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("production")
    with reserved_port() as port:
        environment = {
            key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"
        } | {
            "PYTHON": sys.executable,
            "DEBUG": "false",
            "SECRET_KEY": "production-server-test-" + "k" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "STATIC_ROOT": str(directory / "static"),
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "2",
            "HEALTH_WORKER_MAX_AGE": "0",
        }
        process = subprocess.Popen(
            [str(BASE_DIR / "bin" / "entrypoint"), "web"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        output = []
        # gunicorn says where it listens once its socket is bound; requests queue there until the
        # worker has loaded the app.
        for line in process.stderr:
            output.append(line)
            if "Listening at:" in line:
                break
        else:
            pytest.fail("the server did not start:\n" + "".join(output))
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    try:
        yield Server(f"http://127.0.0.1:{port}", environment, directory / "static")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_make_run_and_the_container_start_the_same_server_command():
    makefile = (BASE_DIR / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "bin/serve" in run_recipe
    assert "runserver" not in run_recipe
    dev_recipe = makefile.split("\ndev:", 1)[1].split("\n\n", 1)[0]
    assert "manage.py runserver" in dev_recipe
    assert "exec bin/serve" in (BASE_DIR / "bin" / "entrypoint").read_text()
    assert "gunicorn" in (BASE_DIR / "bin" / "serve").read_text()


def test_the_server_serves_the_sign_in_page(server):
    status, headers, body = fetch(server.url + "/accounts/login/")

    assert status == 200
    assert "gunicorn" in headers["Server"]
    assert b'name="username"' in body


def test_whitenoise_serves_hashed_static_files_compressed_and_cached_for_ever(server):
    manifest = json.loads((server.static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["core/dashboard.js"]
    assert re.fullmatch(r"core/dashboard\.[0-9a-f]{12}\.js", hashed)

    status, headers, body = fetch(f"{server.url}/static/{hashed}", **{"Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]
    assert "Accept-Encoding" in headers["Vary"]
    assert body[:2] == b"\x1f\x8b"


def test_healthz_through_the_entrypoint_names_the_scheduler_until_it_ticks(server):
    status, _, body = fetch(server.url + "/healthz")
    assert status == 503
    checks = json.loads(body)["checks"]
    assert checks["database"]["ok"] is True
    assert checks["scheduler"] == {"ok": False, "detail": "never seen"}

    subprocess.run(
        [sys.executable, "manage.py", "send_mailings"],
        cwd=BASE_DIR,
        env=server.environment,
        check=True,
        capture_output=True,
        timeout=60,
    )

    status, _, body = fetch(server.url + "/healthz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"
