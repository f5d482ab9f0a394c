"""System checks: settings the app would otherwise ignore without a word.

Deliverability: the names a letter shows (its From domain, its Message-ID domain, the EHLO
name of the server that sends it) are scored as spam when they are `localhost` or not fully
qualified; a production service (DEBUG off, or `check --deploy`) is warned about them and
about a SITE_URL that is not HTTPS, since unsubscribe links point there. A DKIM key that
cannot be read is an error whatever DEBUG says: every run would fail on it.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from core.services.sending.dkim import DkimKeyError, dkim_signer
from core.services.sending.identity import default_from_domain, ehlo_name

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@checks.register(checks.Tags.compatibility)
def check_mailer_backend(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The sending engine speaks SMTP itself with MAILERS['default']['OPTIONS']: any other
    BACKEND there would be ignored, so it is refused instead."""
    backend = getattr(settings, "MAILERS", {}).get("default", {}).get("BACKEND")
    if backend == SMTP_BACKEND:
        return []
    return [
        checks.Error(
            f"MAILERS['default']['BACKEND'] is {backend!r}, but the sending engine only speaks "
            "SMTP and would ignore it.",
            hint=f"Use {SMTP_BACKEND!r} and set the server in MAILERS['default']['OPTIONS'] "
            "(the EMAIL_* variables, see .env.example).",
            obj="settings.MAILERS",
            id="core.E001",
        )
    ]


@checks.register(checks.Tags.compatibility)
def deliverability_when_not_debug(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The deliverability warnings on every check of a production service (DEBUG off)."""
    return [] if settings.DEBUG else deliverability_warnings()


@checks.register(checks.Tags.security, deploy=True)
def deliverability_for_deploy(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The same warnings for `check --deploy` with DEBUG on (with DEBUG off they are given)."""
    return deliverability_warnings() if settings.DEBUG else []


def deliverability_warnings() -> list[checks.CheckMessage]:
    """Warnings for names that make letters look like spam, and a SITE_URL without HTTPS."""
    warnings = []
    from_domain = default_from_domain()
    if not is_fully_qualified(from_domain):
        warnings.append(
            checks.Warning(
                f"The From address of DEFAULT_FROM_EMAIL is at {from_domain!r}, "
                "not a fully qualified domain.",
                hint="Set DEFAULT_FROM_EMAIL to an address at your sending domain; its domain "
                "is also the letters' Message-ID domain unless EMAIL_MESSAGE_ID_DOMAIN is set.",
                id="core.W101",
            )
        )
    if settings.EMAIL_MESSAGE_ID_DOMAIN and not is_fully_qualified(
        settings.EMAIL_MESSAGE_ID_DOMAIN
    ):
        warnings.append(
            checks.Warning(
                f"EMAIL_MESSAGE_ID_DOMAIN is {settings.EMAIL_MESSAGE_ID_DOMAIN!r}, "
                "not a fully qualified domain.",
                hint="Set it to your sending domain, or leave it empty to use the From domain.",
                id="core.W102",
            )
        )
    name = ehlo_name()
    if not is_fully_qualified(name):
        warnings.append(
            checks.Warning(
                f"The sender greets mail servers as {name!r} (EHLO), not a fully qualified name.",
                hint="Set EMAIL_LOCAL_HOSTNAME to this host's public name, one whose address "
                "resolves back to it (reverse DNS).",
                id="core.W103",
            )
        )
    if urlsplit(settings.SITE_URL).scheme != "https":
        warnings.append(
            checks.Warning(
                f"SITE_URL is {settings.SITE_URL!r}, not an https:// address.",
                hint="Letters' unsubscribe links point at SITE_URL; mailbox providers expect "
                "HTTPS for one-click unsubscribe (RFC 8058).",
                id="core.W104",
            )
        )
    return warnings


@checks.register(checks.Tags.compatibility)
def dkim_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An error when the DKIM settings are incomplete or the key cannot sign."""
    try:
        dkim_signer()
    except DkimKeyError as error:
        return [
            checks.Error(
                str(error),
                hint="Check DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE, "
                "or unset all three.",
                id="core.E101",
            )
        ]
    return []


def is_fully_qualified(name: str) -> bool:
    """Whether `name` looks like a public host or domain name: dotted, not localhost."""
    name = name.strip().rstrip(".").lower()
    return "." in name and name != "localhost" and not name.endswith((".localhost", ".local"))
