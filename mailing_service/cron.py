"""What a cron job needs to run `manage.py` the way this process runs it.

Cron starts jobs in the home directory with little more than HOME, SHELL and a short PATH.
Settings read `.env` by absolute path, but variables set in the environment (a container, a
systemd unit, a shell profile) would be lost, so the job line carries those it will need: the
variables the settings read (recorded by `mailing_service.environment.Environment` as they are
read, so this list is never copied by hand), plus what Python and Django need to find them.
"""

import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

# Not read by the settings but needed before they are: which settings module to load.
PROCESS_VARIABLES = ("DJANGO_SETTINGS_MODULE",)


def cron_variables(*, names: Iterable[str]) -> tuple[str, ...]:
    """The variables a cron job carries when they are set: `names` (those the settings read)
    and PROCESS_VARIABLES."""
    return tuple(dict.fromkeys([*PROCESS_VARIABLES, *names]))


def cron_command_prefix(*, environ: Mapping[str, str], names: Iterable[str], base_dir: Path) -> str:
    """`cd <project> && VAR=value ...`: put before the job's command in the crontab line.

    `environ` is the process environment (without `.env`), `names` the variables the settings
    read; those of them that are set are carried.
    """
    assignments = [
        f"{name}={shlex.quote(environ[name])}"
        for name in cron_variables(names=names)
        if name in environ
    ]
    # A UTF-8 locale, or Python would print Cyrillic mailing names to the log as errors.
    assignments.insert(0, "LANG=C.UTF-8")
    return " ".join([f"cd {shlex.quote(str(base_dir))} &&", *assignments])
