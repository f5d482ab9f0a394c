"""Settings for the test suite: production settings with a throwaway key and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# A sender identity that a production check accepts, so that commands the tests start as
# processes print no deliverability warnings (tests of those warnings set their own names).
os.environ.setdefault("SITE_URL", "https://testserver")
os.environ.setdefault("DEFAULT_FROM_EMAIL", "Mailing service <noreply@example.com>")
os.environ.setdefault("EMAIL_LOCAL_HOSTNAME", "sender.example.com")
# A server that failed one test's run must not hold back the next test's: the breaker still
# defers the rest of a tick (tests of the rest across ticks set their own seconds).
os.environ.setdefault("EMAIL_SERVER_REST_SECONDS", "0")

from mailing_service.settings import *  # noqa: F403
from mailing_service.settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The live server of browser tests speaks plain HTTP.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that commands started as child processes see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
