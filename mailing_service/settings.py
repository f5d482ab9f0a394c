"""Settings for the mailing service: what differs between machines comes from the environment.

Every variable is documented in `.env.example`. With DEBUG off the service refuses to start without
a real SECRET_KEY and ALLOWED_HOSTS.
"""

import os
import shlex
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from mailing_service.cron import cron_command_prefix
from mailing_service.environment import Environment
from mailing_service.settings_errors import SettingsError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


# Every variable below is read through `env`, which records its name: that record is the list
# of the service's variables (the one `.env.example` must document).
env = Environment()

# What the process was started with, before `.env` joins it: where the cron job finds its
# settings comes from here (never a value of them, see mailing_service/cron.py).
_process_environment = dict(os.environ)
# Read from the environment only (a line in the file it names would come too late).
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if "ENV_FILE" in os.environ and not ENV_FILE.is_file():
    raise SettingsError(f"ENV_FILE names {ENV_FILE}, which is not a readable file.")
environ.Env.read_env(ENV_FILE, overwrite=False)


DEBUG = env.bool("DEBUG", default=False)

_INSECURE_DEV_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise SettingsError("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = _INSECURE_DEV_KEY
elif not DEBUG and (SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 32):
    raise SettingsError("SECRET_KEY is too weak for DEBUG off: use 50 random characters.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise SettingsError("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "widget_tweaks",
    "django_crontab",
    "axes",
    "django_tasks_db",
    "core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (SECURE_CSP below): scripts and styles from this site only.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Outside CSRF and sign-in: an htmx request they refuse leaves the page for sign-in.
    "core.middleware.HtmxSignInMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Permissions-Policy on every answer; signed-in pages are never stored by a cache.
    "core.middleware.PrivacyHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A user blocked by a manager is signed out here, at their next request.
    "core.auth.BlockedUserSignOutMiddleware",
    # After authentication: dates are shown and read in the signed-in user's time zone.
    "core.middleware.UserTimeZoneMiddleware",
    # After the two above: it reads request.htmx and hands messages over before they are stored.
    "core.middleware.HtmxMessagesMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for too many failures into the
    # lockout page (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mailing_service.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.widget_errors",
            ],
        },
    },
]

WSGI_APPLICATION = "mailing_service.wsgi.application"
ASGI_APPLICATION = "mailing_service.asgi.application"

# Database: one URL. SQLite by default so the service runs with nothing installed.
_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
_database_url = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
# Read (and checked) whatever the database, so every variable is read on every machine; only
# PostgreSQL uses it.
_conn_max_age = env.int("CONN_MAX_AGE", default=0)
_scheme = _database_url.split("://", 1)[0] if "://" in _database_url else ""
if _scheme not in _DATABASE_SCHEMES:
    raise SettingsError(
        f"DATABASE_URL is not valid: expected sqlite:///path or postgres://user:pass@host/name, "
        f"got scheme {_scheme or 'none'!r}."
    )
try:
    _database = environ.Env.db_url_config(_database_url)
except (ValueError, KeyError) as error:
    raise SettingsError(f"DATABASE_URL is not valid: {error}") from None
if _database["ENGINE"].endswith("sqlite3"):
    # WAL lets readers run beside the sender; IMMEDIATE takes the write lock when a transaction
    # starts, so two senders claiming the same work serialise instead of failing on upgrade.
    _database.setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif not _database.get("NAME"):
    raise SettingsError("DATABASE_URL is not valid: it names no database.")
else:
    _database["CONN_MAX_AGE"] = _conn_max_age
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out email or client address before the password is
# even checked; then Django's own backend, refusing users a manager blocked (core.auth).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth.BlockedUsersRefusedBackend",
]

# Accounts (core.services.accounts). A verification link works for this many days, once.
ACCOUNT_VERIFICATION_DAYS = env.int("ACCOUNT_VERIFICATION_DAYS", default=3)
# Verification, password-reset and "you already have an account" letters one address gets in
# an hour, together; past it nothing is sent and the pages answer as usual.
ACCOUNT_LETTERS_PER_HOUR = env.int("ACCOUNT_LETTERS_PER_HOUR", default=3)
# Failed sign-ins (django-axes): after AXES_FAILURE_LIMIT failures for one email, or from one
# client address, sign-in is refused for AXES_COOLOFF_MINUTES after the last failure, even with
# the right password. A success forgets the failures. Behind a proxy (BEHIND_HTTPS_PROXY) the
# client address is the last one the proxy put in X-Forwarded-For.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The sign-in form names its email field "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "core.services.accounts.sign_in_email"
AXES_CLIENT_IP_CALLABLE = "core.services.accounts.client_address"
AXES_LOCKOUT_CALLABLE = "core.views.accounts.lockout"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Russian first, English second; LocaleMiddleware follows the browser's Accept-Language.
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` gathers the static files WhiteNoise serves.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Front-end packages come from npm at setup time (`npm ci`); nothing third-party is committed.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/tom-select", NODE_MODULES / "tom-select" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Mail: the EMAIL_* variables map onto Django 6.1's MAILERS. The defaults point at the local
# SMTP sink that `make run` starts, so sending works with no mail server configured. The
# sending engine speaks SMTP itself with these OPTIONS: the system check core.E001 refuses any
# other BACKEND rather than let it be ignored.
_email_timeout = env.float("EMAIL_TIMEOUT", default=10.0)
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env.str("EMAIL_HOST", default="127.0.0.1"),
            "port": env.int("EMAIL_PORT", default=1025),
            "username": env.str("EMAIL_HOST_USER", default=""),
            "password": env.str("EMAIL_HOST_PASSWORD", default=""),
            "use_tls": env.bool("EMAIL_USE_TLS", default=False),
            "use_ssl": env.bool("EMAIL_USE_SSL", default=False),
            "timeout": _email_timeout,
        },
    },
}
if MAILERS["default"]["OPTIONS"]["use_tls"] and MAILERS["default"]["OPTIONS"]["use_ssl"]:
    raise SettingsError("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set at most one.")
# With EMAIL_USE_TLS or EMAIL_USE_SSL, the server's certificate and host name are verified
# against the system's CAs, or only those in EMAIL_SSL_CAFILE (a PEM file, for a private CA).
# EMAIL_SSL_VERIFY=false turns verification off, and every run logs a warning.
EMAIL_SSL_VERIFY = env.bool("EMAIL_SSL_VERIFY", default=True)
EMAIL_SSL_CAFILE = env.str("EMAIL_SSL_CAFILE", default="")
# Where the service is reached from outside: letters link back to it (unsubscribe).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "")
if not DEBUG and not SITE_URL:
    raise SettingsError("SITE_URL must be set when DEBUG is off (e.g. https://mail.example.com).")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mailing service <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Domains at which a user's own from-address is used as From (their SPF/DKIM/DMARC must cover
# this server); a user's letters otherwise go from DEFAULT_FROM_EMAIL with replies to the user.
EMAIL_ALLOWED_FROM_DOMAINS = env.list("EMAIL_ALLOWED_FROM_DOMAINS", default=[])
# The domain of the letters' Message-IDs; empty: the domain of their From address.
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="")
# The name the sender greets the mail server with (EHLO); empty: this host's qualified name.
EMAIL_LOCAL_HOSTNAME = env.str("EMAIL_LOCAL_HOSTNAME", default="")
# DKIM signing of every letter: all three set, or none (see README, "Deliverability").
DKIM_DOMAIN = env.str("DKIM_DOMAIN", default="")
DKIM_SELECTOR = env.str("DKIM_SELECTOR", default="")
DKIM_PRIVATE_KEY_FILE = env.str("DKIM_PRIVATE_KEY_FILE", default="")
# SMTP connections one mailing run may use at once.
EMAIL_CONCURRENCY = env.int("EMAIL_CONCURRENCY", default=4)
# Tries per recipient and run when the server answers 4xx (try again later), and the first
# back-off between them in seconds (it doubles); recipients still refused wait for the next run.
EMAIL_RETRIES = env.int("EMAIL_RETRIES", default=3)
EMAIL_RETRY_DELAY = env.float("EMAIL_RETRY_DELAY", default=2.0)
# A run that ends with recipients still pending (4xx beyond the retries, a server that was down,
# refused the login or broke the connection) stays open and is resumed for those recipients by a
# later `send_mailings`: first after this many seconds, then twice as long each time, at most
# EMAIL_RESUMES times and never once the mailing's next run is due (that run sends to everyone).
EMAIL_RESUME_AFTER = env.float("EMAIL_RESUME_AFTER", default=300.0)
EMAIL_RESUMES = env.int("EMAIL_RESUMES", default=5)
# A run whose sender stopped renewing its lease for this long (killed, host gone) is taken over
# by the next `send_mailings`.
SENDING_LEASE_SECONDS = env.float("SENDING_LEASE_SECONDS", default=60.0)
# A mail server that refused, hung or failed a run is left to rest this many seconds: the other
# mailings due for it stay due and are tried by a tick after that, not each after a timeout.
EMAIL_SERVER_REST_SECONDS = env.float("EMAIL_SERVER_REST_SECONDS", default=30.0)
# Letters a minute the mail server takes from this service, shared by every sender process
# through the database (a token bucket per server); 0: no limit.
EMAIL_RATE_LIMIT = env.int("EMAIL_RATE_LIMIT", default=0)
# Tasks enqueued per run that a worker is to send ("send now", a mailing saved while due): each
# worker that takes one joins the run and works its batches, so N workers send it N times as fast.
SENDING_WORKERS_PER_RUN = env.int("SENDING_WORKERS_PER_RUN", default=1)
# Letters a day (since local midnight, TIME_ZONE) one user's runs may send together; a manager
# can set another number per user. A run that reaches it leaves the rest pending until midnight.
DAILY_LETTER_QUOTA = env.int("DAILY_LETTER_QUOTA", default=1000)
# Background work (a mailing due when saved, "send now", account letters) is a task of Django's
# tasks framework, stored in the database by django-tasks-db and run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Imports of clients (core.services.imports): the largest file accepted, in bytes, and the most
# rows written within the request; a larger file is written by a background task. The uploaded
# files are kept, named by a random token, under IMPORT_DIR (private: never served).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_INLINE_ROWS = env.int("IMPORT_INLINE_ROWS", default=2000)
IMPORT_DIR = VAR_DIR / "imports"
# An import being written that has shown no progress for this many seconds is interrupted (its
# worker was killed, ran out of memory, the machine rebooted): its page offers to resume or
# cancel it, and the scheduler's tick resumes it by itself a few times. A batch of 1,000 rows
# takes well under a second, so the default leaves a slow database a wide margin.
IMPORT_STALL_SECONDS = env.int("IMPORT_STALL_SECONDS", default=120)

# Security: secure defaults; what needs HTTPS in front is switched on from the environment.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts and styles come from this site's static files only: no inline <script>, no style=""
# attributes (what Bootstrap, Tom Select and Chart.js set from JavaScript is allowed). Images may
# also be data: URIs (Bootstrap's icons) and, in a letter's preview, https: images it links.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Features no page of the service uses, refused to every page and anything it embeds.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "accelerometer=(), gyroscope=(), magnetometer=()"
)
# A refused form (a stale or missing CSRF token) gets a page of the site, or for htmx a sign-in.
CSRF_FAILURE_VIEW = "core.views.errors.csrf_failure"

# The production web server (`bin/serve`, gunicorn): worker processes, threads per worker, the
# address it listens on, and whether it logs every request.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=2)
WEB_THREADS = env.int("WEB_THREADS", default=4)
WEB_BIND = env.str("WEB_BIND", default="127.0.0.1:8000")
WEB_ACCESS_LOG = env.bool("WEB_ACCESS_LOG", default=False)

MESSAGE_TAGS = {50: "danger", 40: "danger"}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
WIDGET_ERROR_CLASS = "is-invalid"

# Who is mailed a 500's traceback when DEBUG is off (comma-separated addresses; none: nobody).
ADMINS = env.list("ADMINS", default=[])

# Health and metrics (core.views.health). /healthz fails when the scheduler's last tick, or a
# task worker's last heartbeat, is older than these many seconds (0: not checked). /metrics
# answers only requests bearing METRICS_TOKEN (Authorization: Bearer ...); unset, it is off.
HEALTH_SCHEDULER_MAX_AGE = env.int("HEALTH_SCHEDULER_MAX_AGE", default=180)
HEALTH_WORKER_MAX_AGE = env.int("HEALTH_WORKER_MAX_AGE", default=180)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOG_DIR = VAR_DIR / "log"
# LOG_FORMAT=json: one JSON object a line, for a log collector; plain: lines for people.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise SettingsError(f"LOG_FORMAT is not valid: expected plain or json, got {LOG_FORMAT!r}.")
# Errors (a 500's traceback above all) go to stderr whatever DEBUG says, and with DEBUG off to
# ADMINS by mail when there are some; the app's own messages go to stderr from LOG_LEVEL up.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "core.log_format.JsonLinesFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
        "errors": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "level": "ERROR"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "loggers": {
        "core": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "django": {"handlers": ["errors", "mail_admins"], "level": "INFO", "propagate": False},
        # The development server's access lines, as Django logs them by default.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Cron (django-crontab): `python manage.py crontab add | show | remove`. Cron starts jobs with
# an almost empty environment and shows their lines to every local user, so the job changes
# into the project, carries only where its settings are (the settings module and ENV_FILE, when
# set) and reads its secrets from .env at run time; it appends its output to var/log/.
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
CRONTAB_COMMENT = f"mailing_service send_mailings ({BASE_DIR})"
CRONTAB_COMMAND_PREFIX = cron_command_prefix(environ=_process_environment, base_dir=BASE_DIR)
CRONJOBS = [
    (
        "* * * * *",
        "django.core.management.call_command",
        ["send_mailings"],
        {},
        f">> {shlex.quote(str(VAR_DIR / 'log' / 'send_mailings.log'))} 2>&1",
    ),
]
