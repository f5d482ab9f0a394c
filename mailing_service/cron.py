"""What a cron job needs to run `manage.py` the way this process runs it, and no secret.

Cron starts jobs in the home directory with little more than HOME, SHELL and a short PATH, and
runs each line through `sh -c`, where every local user can read it in `ps` once a minute. So the
line carries no value of the settings: the job changes into the project and its settings read
`.env` (or the file `ENV_FILE` names) at run time, as every other process of the service does.
It carries only what is needed to find that file and the settings: a UTF-8 locale, the settings
module when it is not `manage.py`'s default, and `ENV_FILE` when it is set.
"""

import shlex
from collections.abc import Mapping
from pathlib import Path

# `manage.py` sets this one when the environment does not: carrying it would say nothing.
DEFAULT_SETTINGS_MODULE = "mailing_service.settings"
# Not secrets, and needed before the settings can find the ones that are.
LOCATION_VARIABLES = ("DJANGO_SETTINGS_MODULE", "ENV_FILE")


def cron_command_prefix(*, environ: Mapping[str, str], base_dir: Path) -> str:
    """`cd <project> && LANG=C.UTF-8 [DJANGO_SETTINGS_MODULE=...] [ENV_FILE=...]`: put before
    the job's command in the crontab line.

    `environ` is the environment `crontab add` runs in; only LOCATION_VARIABLES are taken
    from it, never a setting's value.
    """
    carried = {
        name: environ[name]
        for name in LOCATION_VARIABLES
        if environ.get(name)
        and not (name == "DJANGO_SETTINGS_MODULE" and environ[name] == DEFAULT_SETTINGS_MODULE)
    }
    # A UTF-8 locale, or Python would print Cyrillic mailing names to the log as errors.
    assignments = [
        "LANG=C.UTF-8",
        *(f"{name}={shlex.quote(value)}" for name, value in carried.items()),
    ]
    return " ".join([f"cd {shlex.quote(str(base_dir))} &&", *assignments])
