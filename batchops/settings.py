"""THE config reader. Precedence: command-line flag > environment > config file (TOML) > default.

No other module reads the environment or the config file; everything else receives a Settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from batchops.domain.job import FailureThreshold
from batchops.errors import ConfigError

ACCOUNT_ID_PATTERN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Account:
    """An API account. Its store credentials are the keys its jobs' tasks use."""

    id: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    #: Optional password for the web console (sign in with the account id and this password).
    console_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".data/batchops")
    #: The S3-compatible store the tasks act on (None: AWS's default endpoint resolution).
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    #: Jobs Active at once; higher priorities first, the rest wait in Ready or Paused.
    max_active_jobs: int = 1
    #: Tasks in flight at once, over all jobs (each holds one HTTP connection).
    task_concurrency: int = 64
    #: Manifest rows per unit of work a worker claims; also the Preparing checkpoint interval.
    chunk_size: int = 1000
    #: Attempts per S3 call (retries throttling, 5xx, timeouts, connection errors with backoff).
    s3_max_attempts: int = 6
    s3_timeout_seconds: float = 30.0
    threshold: FailureThreshold = field(default_factory=FailureThreshold)
    #: Days a terminal job stays listed and describable before it is purged.
    retention_days: int = 90
    accounts: tuple[Account, ...] = ()
    #: Signs console session cookies; None: a random one kept in the data dir (sessions survive restarts).
    session_secret: str | None = field(default=None, repr=False)

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "batchops.sqlite3"


_ENV = {
    "host": "BATCHOPS_HOST",
    "port": "BATCHOPS_PORT",
    "data_dir": "BATCHOPS_DATA_DIR",
    "s3_endpoint": "BATCHOPS_S3_ENDPOINT",
    "s3_region": "AWS_REGION",
    "max_active_jobs": "BATCHOPS_MAX_ACTIVE_JOBS",
    "task_concurrency": "BATCHOPS_TASK_CONCURRENCY",
    "chunk_size": "BATCHOPS_CHUNK_SIZE",
    "session_secret": "BATCHOPS_SESSION_SECRET",
}
_POSITIVE = ("port", "max_active_jobs", "task_concurrency", "chunk_size", "s3_max_attempts", "retention_days")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build the Settings from flags (None values are 'not given'), environment and an optional TOML file."""
    environ = os.environ if environ is None else environ
    file_values = _read_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    for name in (f.name for f in fields(Settings)):
        values.update(_pick(name, flags or {}, environ, file_values))
    settings = _convert(values)
    return replace(settings, accounts=_accounts(file_values, environ))


def _pick(name: str, flags: Mapping[str, Any], environ: Mapping[str, str], file: Mapping[str, Any]) -> dict[str, Any]:
    if flags.get(name) is not None:
        return {name: flags[name]}
    if name in _ENV and environ.get(_ENV[name]):
        return {name: environ[_ENV[name]]}
    if name in file:
        return {name: file[name]}
    return {}


def _convert(values: dict[str, Any]) -> Settings:
    converted = dict(values)
    for name in (
        "port",
        "max_active_jobs",
        "task_concurrency",
        "chunk_size",
        "s3_max_attempts",
        "retention_days",
    ):
        if name in converted:
            converted[name] = _as_int(name, converted[name])
    if "s3_timeout_seconds" in converted:
        converted["s3_timeout_seconds"] = float(converted["s3_timeout_seconds"])
    if "data_dir" in converted:
        converted["data_dir"] = Path(converted["data_dir"])
    if "threshold" in converted:
        converted["threshold"] = _threshold(converted["threshold"])
    for name in _POSITIVE:
        if name in converted and converted[name] < 1:
            raise ConfigError(f"setting {name} must be at least 1, not {converted[name]}")
    return Settings(**converted)


def _as_int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} must be a whole number, not {value!r}") from None


def _threshold(table: Any) -> FailureThreshold:
    if not isinstance(table, Mapping):
        raise ConfigError("[threshold] must be a table with min_tasks and percent")
    threshold = FailureThreshold(
        min_tasks=_as_int("threshold.min_tasks", table.get("min_tasks", 1000)),
        percent=float(table.get("percent", 50.0)),
    )
    if threshold.min_tasks < 0 or not 0 <= threshold.percent <= 100:
        raise ConfigError("threshold.min_tasks must be ≥ 0 and threshold.percent from 0 to 100")
    return threshold


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(f"[server] in {path} must be a table")
    unknown = set(server) - {f.name for f in fields(Settings)} - {"accounts"}
    if unknown:
        raise ConfigError(f"unknown setting(s) in [server] of {path}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {**server, "_accounts": data.get("accounts")}
    if "threshold" in data:
        values["threshold"] = data["threshold"]
    return values


def _accounts(file_values: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Account, ...]:
    declared = file_values.get("_accounts")
    if declared:
        return tuple(_account(entry) for entry in declared)
    return (
        _account(
            {
                "id": environ.get("BATCHOPS_ACCOUNT_ID", "123456789012"),
                "access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
                "secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
            }
        ),
    )


def _account(entry: Mapping[str, Any]) -> Account:
    account_id = str(entry.get("id", ""))
    if not ACCOUNT_ID_PATTERN.match(account_id):
        raise ConfigError(f"account id {account_id!r} must be exactly 12 digits")
    return Account(
        account_id, entry.get("access_key_id"), entry.get("secret_access_key"), entry.get("console_password")
    )
