"""System checks: settings the app would otherwise ignore without a word."""

from django.conf import settings
from django.core import checks

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
