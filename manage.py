#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    """Run a management command; a settings error ends the process with one readable line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailing_service.settings")
    from django.core.management import execute_from_command_line

    from mailing_service.settings_errors import run_reporting_settings_errors

    run_reporting_settings_errors(lambda: execute_from_command_line(sys.argv))


if __name__ == "__main__":
    main()
