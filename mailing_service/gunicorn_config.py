"""gunicorn's configuration (`bin/serve`): its workers, threads and address come from the settings.

The settings read WEB_CONCURRENCY, WEB_THREADS and WEB_BIND like every other variable (the
environment, then `.env`), so `.env.example` documents them and the cron job's list stays whole.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailing_service.settings")

from django.conf import settings

bind = [settings.WEB_BIND]
workers = settings.WEB_CONCURRENCY
# Threads let one worker wait on the database for one request while serving another.
threads = settings.WEB_THREADS
worker_class = "gthread" if threads > 1 else "sync"
# Each worker loads the app after the fork: no database connection is shared between workers.
preload_app = False
# A request taking longer than this is a stuck worker: gunicorn replaces it.
timeout = 60
graceful_timeout = 20
accesslog = "-" if settings.WEB_ACCESS_LOG else None
errorlog = "-"
