"""Report a broken environment as one line instead of a traceback."""

import sys
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured


class SettingsError(ImproperlyConfigured):
    """A setting from the environment is missing or malformed."""


def run_reporting_settings_errors(run: Callable[[], None]) -> None:
    """Call `run`; if the settings module refuses the environment, print why and exit 1."""
    try:
        run()
    except Exception as error:
        # Django imports settings lazily inside `run`, so the error may arrive wrapped.
        cause = error if isinstance(error, SettingsError) else error.__cause__
        if not isinstance(cause, SettingsError):
            raise
        print(f"Configuration error: {cause}", file=sys.stderr)
        sys.exit(1)
