"""How a setting is declared: its environment variable, its bounds and its help live on its ``Settings`` field.

``field(default=8080, metadata=whole("Port to listen on", env="BATCHOPS_PORT", flag=True))`` is the one place a
knob is described; the loader (``batchops.settings``), the ``batchops server`` options (``batchops.cli``) and the
README check (``tests/unit/test_settings_knobs.py``) all read it from there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from batchops.errors import ConfigError

#: The key under which a field's metadata holds its Knob.
KNOB = "batchops.knob"


class Kind(Enum):
    """How a knob's value is read from a string (the environment) or a TOML value."""

    TEXT = "text"  # taken as given
    WHOLE = "whole number"
    SECONDS = "seconds"  # a positive, finite number
    CHOICE = "choice"
    DIRECTORY = "directory"
    FILE = "file"


@dataclass(frozen=True)
class Knob:
    help: str
    kind: Kind = Kind.TEXT
    #: The environment variable that sets it (None: flag or config file only).
    env: str | None = None
    #: Whether ``batchops server`` has a ``--name-with-dashes`` option for it.
    flag: bool = False
    minimum: int | None = None
    maximum: int | None = None
    #: The range in words, for the refusal (e.g. what 0 workers means); default "from MIN to MAX".
    range_words: str | None = None
    choices: tuple[str, ...] = ()


def text(help: str, *, env: str | None = None, flag: bool = False) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.TEXT, env, flag)}


def whole(
    help: str,
    *,
    env: str | None = None,
    flag: bool = False,
    minimum: int = 1,
    maximum: int | None = None,
    range_words: str | None = None,
) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.WHOLE, env, flag, minimum, maximum, range_words)}


def seconds(help: str, *, env: str | None = None, flag: bool = False) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.SECONDS, env, flag)}


def choice(help: str, choices: tuple[str, ...], *, env: str | None = None, flag: bool = False) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.CHOICE, env, flag, choices=choices)}


def directory(help: str, *, env: str | None = None, flag: bool = False) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.DIRECTORY, env, flag)}


def file(help: str, *, env: str | None = None, flag: bool = False) -> dict[str, Knob]:
    return {KNOB: Knob(help, Kind.FILE, env, flag)}


def knob_of(metadata: Mapping[str, Any]) -> Knob | None:
    found = metadata.get(KNOB)
    return found if isinstance(found, Knob) else None


def flag_name(name: str) -> str:
    """The ``batchops server`` option of the setting ``name``: ``max_active_jobs`` → ``--max-active-jobs``."""
    return "--" + name.replace("_", "-")


def read(name: str, knob: Knob, value: Any, source: str) -> Any:
    """The value of the setting ``name`` converted and checked; refusals name the setting and where it came from."""
    try:
        return _read(name, knob, value)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (from {source})") from None


def _read(name: str, knob: Knob, value: Any) -> Any:
    if knob.kind is Kind.WHOLE:
        return _within(name, knob, whole_number(name, value))
    if knob.kind is Kind.SECONDS:
        return positive_seconds(name, value)
    if knob.kind in (Kind.DIRECTORY, Kind.FILE):
        return Path(value)
    if knob.kind is Kind.CHOICE and value not in knob.choices:
        raise ConfigError(f"setting {name} must be one of {', '.join(knob.choices)}, not {value!r}")
    return value


def whole_number(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} must be a whole number, not {value!r}") from None


def positive_seconds(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} must be a number of seconds, not {value!r}") from None
    if not number > 0 or math.isinf(number):
        raise ConfigError(f"setting {name} must be a positive number of seconds, not {value!r}")
    return number


def _within(name: str, knob: Knob, number: int) -> int:
    low = knob.minimum if knob.minimum is not None else -math.inf
    high = knob.maximum if knob.maximum is not None else math.inf
    if low <= number <= high:
        return number
    if knob.range_words is not None:
        raise ConfigError(f"setting {name} must be {knob.range_words}, not {number}")
    if knob.maximum is None:
        raise ConfigError(f"setting {name} must be at least {knob.minimum}, not {number}")
    raise ConfigError(f"setting {name} must be from {knob.minimum} to {knob.maximum}, not {number}")
