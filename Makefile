# Two commands a new machine needs:  `make run`  (the service on its defaults)  and  `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Python 3.12 or newer: pyenv's (pinned by .python-version), else one on PATH.
PYTHON ?= $(shell for c in "$$(pyenv which python 2>/dev/null)" $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python 2>/dev/null) python3.13 python3.12 python3; do \
	  [ -n "$$c" ] && command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$c"; break; }; done)

.PHONY: help setup prepare run dev test lint format messages clean

help:
	@echo "make run    set up and run the service on http://127.0.0.1:8000 (SQLite, local SMTP sink)"
	@echo "make dev    the same with the development server, reloading on code changes"
	@echo "make test   set up and run the whole test suite (browser tests included)"
	@echo "make lint   ruff check and format check"

$(VENV)/.installed: requirements.txt requirements-test.txt
	@[ -n "$(PYTHON)" ] || { echo "Python 3.12 or newer is needed (pyenv install 3.12, or set PYTHON=...)" >&2; exit 1; }
	@[ -x $(PY) ] || { echo "Creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed
	@mkdir -p var/log var/mail

# Before either server: the settings file, the database's schema, static files, the demo user.
prepare: setup
	@[ -f .env ] || { cp .env.example .env; echo "Created .env from .env.example (edit it to configure)"; }
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py ensure_demo_user

# The production web server (bin/serve: gunicorn, WEB_CONCURRENCY workers), the SMTP sink, a
# task worker and the scheduler loop start together; Ctrl-C stops them all.
run: prepare
	@trap 'kill 0' EXIT; \
	$(PY) manage.py smtp_sink & \
	$(PY) manage.py run_worker --no-reload & \
	$(PY) manage.py run_scheduler & \
	PYTHON=$(PY) bin/serve

# The same with Django's development server, which reloads the code when it changes.
dev: prepare
	@trap 'kill 0' EXIT; \
	$(PY) manage.py smtp_sink & \
	$(PY) manage.py run_worker & \
	$(PY) manage.py run_scheduler & \
	$(PY) manage.py runserver 127.0.0.1:8000

# Browser tests drive Debian's Chromium; install it when missing and we may.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Browser tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium" >&2; exit 1; fi

# The test that every string of the code is in the Russian catalogue runs GNU gettext.
/usr/bin/xgettext:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; \
	else echo "The translation tests need GNU gettext: sudo apt-get install gettext" >&2; exit 1; fi

test: setup /usr/bin/chromium /usr/bin/xgettext
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Refresh the Russian catalogue after changing user-facing strings, translate the new entries in
# locale/ru/LC_MESSAGES/django.po, then `make messages` again to compile it (needs GNU gettext).
# DEBUG=true: the catalogue needs no production settings (SECRET_KEY...), even without a .env.
messages: $(VENV)/.installed
	DEBUG=true $(PY) manage.py makemessages -l ru --ignore=.venv --ignore=node_modules --ignore=var --no-obsolete
	DEBUG=true $(PY) manage.py compilemessages -l ru --ignore=.venv --ignore=node_modules

clean:
	rm -rf $(VENV) node_modules staticfiles var/test-db.sqlite3*
