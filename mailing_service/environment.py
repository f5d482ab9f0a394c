"""The one declaration of the service's environment variables: the reads in the settings.

The settings read every variable through an `Environment`, which records its name as it reads
it. That record is the only list of the variables there is: a test checks that `.env.example`
documents exactly them, so a variable added to the settings is documented by being read. (The
cron job carries none of them: it reads them from `.env` at run time, see `mailing_service.cron`.)
"""

# The readers are named after the types they return, as django-environ's are: annotations stay
# unevaluated so that `str` in them is the type, not the method of that name.
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import environ

from mailing_service.settings_errors import SettingsError


class Environment:
    """Typed reads of environment variables that remember every name read.

    A value that does not parse becomes a SettingsError naming the variable, which `manage.py`
    prints as one line instead of a traceback.
    """

    def __init__(self) -> None:
        self._env = environ.Env()
        self._names: dict[str, None] = {}  # an ordered set: the order the settings read them

    @property
    def names(self) -> tuple[str, ...]:
        """Every variable read so far, in the order the settings read them."""
        return tuple(self._names)

    def str(self, name: str, *, default: str) -> str:
        return self._read(self._env.str, name, default=default)

    def bool(self, name: str, *, default: bool) -> bool:
        return self._read(self._env.bool, name, default=default)

    def int(self, name: str, *, default: int) -> int:
        return self._read(self._env.int, name, default=default)

    def float(self, name: str, *, default: float) -> float:
        return self._read(self._env.float, name, default=default)

    def list(self, name: str, *, default: list[str]) -> list[str]:
        return self._read(self._env.list, name, default=default)

    def _read(self, reader: Callable[..., Any], name: str, **kwargs) -> Any:
        self._names[name] = None
        try:
            return reader(name, **kwargs)
        except (ValueError, TypeError) as error:
            raise SettingsError(f"{name} is not valid: {error}") from None
