"""THE config reader. Precedence: command-line flag > environment > config file (TOML) > default.

No other module reads the environment or the config file; everything else receives a Settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from batchops.domain.job import FailureThreshold
from batchops.errors import ConfigError

ACCOUNT_ID_PATTERN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Role:
    """Where the tasks of a job with this RoleArn go and who they act as (None: the server's / account's)."""

    arn: str
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Account:
    """An API account: its keys sign requests (SigV4 and COS); its roles say where its jobs' tasks go."""

    id: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    #: The COS APPID the account answers to in ``x-cos-appid`` (default: the account id itself).
    appid: str | None = None
    #: The RoleArns its jobs may name; ``any_role``: any RoleArn, with the server's store and these keys.
    roles: tuple[Role, ...] = ()
    any_role: bool = False
    #: Unfinished jobs the account may have at once (None: the server's max_unfinished_jobs_per_account).
    max_unfinished_jobs: int | None = None
    #: Optional password for the web console (sign in with the account id and this password).
    console_password: str | None = field(default=None, repr=False)

    @property
    def cos_appid(self) -> str:
        return self.appid or self.id


@dataclass(frozen=True)
class FunctionTarget:
    """Where a LambdaInvoke job's FunctionArn goes: an HTTP endpoint (webhook) or a Python entry point."""

    arn: str
    url: str | None = None
    #: ``package.module:callable``; sync or async, called with the invocation event dict.
    entry_point: str | None = None
    timeout_seconds: float = 60.0
    #: Invocations per task while the function answers TemporaryFailure (or cannot be reached).
    max_attempts: int = 5


#: Worker processes one server may start (each is a Python process with its own S3 connections).
MAX_WORKERS = 64

MIB = 1024 * 1024
GIB = 1024 * MIB
#: S3's smallest part (all but the last) and largest part.
MIN_PART_BYTES = 5 * MIB
MAX_PART_BYTES = 5 * GIB


@dataclass(frozen=True)
class TargetStore:
    """A bucket (name, or a pattern such as ``archive-*``) that lives on another S3-compatible store."""

    bucket: str
    endpoint: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)


@dataclass(frozen=True)
class Replica:
    """S3ReplicateObject: objects of ``source_bucket`` go to ``target_bucket`` (on its store, see targets)."""

    source_bucket: str
    target_bucket: str
    target_key_prefix: str = ""


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
    #: Tasks in flight at once, over all jobs (each holds one HTTP connection); with workers, shared among them.
    task_concurrency: int = 64
    #: Worker processes that run the tasks (0: the server process runs them itself, on its one event loop).
    workers: int = 0
    #: Manifest rows per unit of work a worker claims; also the Preparing checkpoint interval.
    chunk_size: int = 1000
    #: Attempts per S3 call (retries throttling, 5xx, timeouts, connection errors with backoff).
    s3_max_attempts: int = 6
    s3_timeout_seconds: float = 30.0
    #: A job whose object store stays unreachable (or answers 5xx/throttling to most requests) holds, without
    #: failing tasks, for up to this long; then it fails with StoreUnavailable.
    store_outage_max_seconds: float = 3600.0
    #: The client of the hot S3 calls: "lean" (signed HTTP, adaptive concurrency) or "botocore" (the SDK only).
    s3_client: str = "lean"
    threshold: FailureThreshold = field(default_factory=FailureThreshold)
    #: Days a terminal job stays listed and describable before it is purged.
    retention_days: int = 90
    accounts: tuple[Account, ...] = ()
    #: Unfinished (not Complete/Cancelled/Failed) jobs an account may have; more → TooManyRequestsException.
    max_unfinished_jobs_per_account: int = 1000
    #: ``[[functions]]``: the functions LambdaInvoke jobs may name, by FunctionArn.
    functions: tuple[FunctionTarget, ...] = ()
    #: Copies of sources larger than this use multipart copy (UploadPartCopy); S3 allows 5 GiB per CopyObject.
    copy_multipart_threshold_bytes: int = 5 * GIB
    #: Part size of multipart copies and of streamed cross-store copies (raised to stay within 10,000 parts).
    copy_part_size_bytes: int = 16 * MIB
    #: Parts of one object copied at once.
    copy_part_concurrency: int = 4
    #: Bytes of object data buffered at once, over all tasks, by copies streamed between stores.
    copy_stream_buffer_bytes: int = 128 * MIB
    #: Buckets that live on another store than ``s3_endpoint`` (copy targets, replicas).
    targets: tuple[TargetStore, ...] = ()
    #: Where S3ReplicateObject copies each source bucket's objects.
    replicas: tuple[Replica, ...] = ()
    #: Attempts to record a batch of task outcomes (waits doubling from 0.25 s to 30 s, about 6.5 minutes for
    #: 20) before the job goes Failing with OutcomeRecordFailed; its tasks never run again meanwhile.
    outcome_record_attempts: int = 20
    #: Signs console session cookies; None: a random one kept in the data dir (sessions survive restarts).
    session_secret: str | None = field(default=None, repr=False)
    #: Serve HTTPS with this certificate chain and private key (PEM files); the console cookie is then Secure.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Seconds a client has to send a request's head, and then (once signed) its body.
    head_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    #: Connections open at once; None: derived from the open-file limit (RLIMIT_NOFILE) at start.
    max_connections: int | None = None
    #: Console sign-in: the first delay after too many failures (it doubles with each further failure).
    login_delay_seconds: float = 1.0

    def function(self, arn: str) -> FunctionTarget | None:
        return next((f for f in self.functions if f.arn == arn), None)

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def account_by_key(self, access_key_id: str) -> Account | None:
        """The account whose API access key this is (requests are signed with it)."""
        return next((a for a in self.accounts if a.access_key_id and a.access_key_id == access_key_id), None)

    def account_by_appid(self, appid: str) -> Account | None:
        return next((a for a in self.accounts if a.cos_appid == appid), None)

    def max_unfinished_jobs(self, account: Account) -> int:
        return account.max_unfinished_jobs or self.max_unfinished_jobs_per_account

    def role(self, account_id: str, role_arn: str) -> Role | None:
        """The store a job of this account with this RoleArn acts on, defaults filled in; None if not declared."""
        account = self.account(account_id)
        if account is None:
            return None
        declared = next((r for r in account.roles if r.arn == role_arn), None)
        if declared is None and not account.any_role:
            return None
        base = declared or Role(role_arn)
        has_keys = base.access_key_id is not None
        return Role(
            arn=role_arn,
            endpoint=base.endpoint or self.s3_endpoint,
            region=base.region or self.s3_region,
            access_key_id=base.access_key_id if has_keys else account.access_key_id,
            secret_access_key=base.secret_access_key if has_keys else account.secret_access_key,
        )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "batchops.sqlite3"

    @property
    def worker_task_concurrency(self) -> int:
        """Tasks in flight in one worker process: ``task_concurrency`` shared evenly among the workers."""
        return max(1, -(-self.task_concurrency // max(self.workers, 1)))


_ENV = {
    "host": "BATCHOPS_HOST",
    "port": "BATCHOPS_PORT",
    "data_dir": "BATCHOPS_DATA_DIR",
    "s3_endpoint": "BATCHOPS_S3_ENDPOINT",
    "s3_region": "AWS_REGION",
    "max_active_jobs": "BATCHOPS_MAX_ACTIVE_JOBS",
    "task_concurrency": "BATCHOPS_TASK_CONCURRENCY",
    "chunk_size": "BATCHOPS_CHUNK_SIZE",
    "max_unfinished_jobs_per_account": "BATCHOPS_MAX_UNFINISHED_JOBS",
    "session_secret": "BATCHOPS_SESSION_SECRET",
    "s3_client": "BATCHOPS_S3_CLIENT",
    "workers": "BATCHOPS_WORKERS",
    "tls_cert": "BATCHOPS_TLS_CERT",
    "tls_key": "BATCHOPS_TLS_KEY",
    "head_timeout_seconds": "BATCHOPS_HEAD_TIMEOUT_SECONDS",
    "body_timeout_seconds": "BATCHOPS_BODY_TIMEOUT_SECONDS",
    "max_connections": "BATCHOPS_MAX_CONNECTIONS",
    "login_delay_seconds": "BATCHOPS_LOGIN_DELAY_SECONDS",
    "outcome_record_attempts": "BATCHOPS_OUTCOME_RECORD_ATTEMPTS",
    "store_outage_max_seconds": "BATCHOPS_STORE_OUTAGE_MAX_SECONDS",
}
S3_CLIENTS = ("lean", "botocore")
_POSITIVE = (
    "port",
    "max_active_jobs",
    "task_concurrency",
    "chunk_size",
    "s3_max_attempts",
    "retention_days",
    "max_unfinished_jobs_per_account",
    "max_connections",
    "outcome_record_attempts",
)
_SECONDS = (
    "s3_timeout_seconds",
    "head_timeout_seconds",
    "body_timeout_seconds",
    "login_delay_seconds",
    "store_outage_max_seconds",
)


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
    settings = replace(settings, accounts=_accounts(file_values, environ))
    settings = replace(settings, functions=_functions(file_values.get("_functions")))
    return _with_copy_settings(settings, file_values)


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
    for name in (*_POSITIVE, "workers"):
        if name in converted:
            converted[name] = _as_int(name, converted[name])
    for name in _SECONDS:
        if name in converted:
            converted[name] = _seconds(name, converted[name])
    for name in ("data_dir", "tls_cert", "tls_key"):
        if name in converted:
            converted[name] = Path(converted[name])
    _check_tls(converted.get("tls_cert"), converted.get("tls_key"))
    if converted.get("s3_client", "lean") not in S3_CLIENTS:
        raise ConfigError(f"setting s3_client must be one of {', '.join(S3_CLIENTS)}, not {converted['s3_client']!r}")
    if "threshold" in converted:
        converted["threshold"] = _threshold(converted["threshold"])
    for name in _POSITIVE:
        if name in converted and converted[name] < 1:
            raise ConfigError(f"setting {name} must be at least 1, not {converted[name]}")
    if not 0 <= converted.get("workers", 0) <= MAX_WORKERS:
        raise ConfigError(
            f"setting workers must be from 0 (tasks run in the server process) to {MAX_WORKERS}, "
            f"not {converted['workers']}"
        )
    return Settings(**converted)


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} must be a number of seconds, not {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"setting {name} must be a positive number of seconds, not {value!r}")
    return seconds


def _check_tls(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise ConfigError("give both tls_cert and tls_key (--tls-cert, --tls-key) to serve HTTPS, or neither")
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise ConfigError(f"TLS file {path} does not exist or is not a file; give the PEM file's path")


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
    unknown = set(server) - {f.name for f in fields(Settings)} - {"accounts", "functions"}
    if unknown:
        raise ConfigError(f"unknown setting(s) in [server] of {path}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {**server, "_accounts": data.get("accounts"), "_functions": data.get("functions")}
    values.update({"_targets": data.get("targets"), "_replicas": data.get("replicas")})
    if "threshold" in data:
        values["threshold"] = data["threshold"]
    return values


def _accounts(file_values: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Account, ...]:
    declared = file_values.get("_accounts")
    if declared:
        if not isinstance(declared, list):
            raise ConfigError("accounts must be declared as [[accounts]] tables")
        accounts = tuple(_account(entry) for entry in declared)
        _check_unique(accounts)
        return accounts
    default = {
        "id": environ.get("BATCHOPS_ACCOUNT_ID", "123456789012"),
        "access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
        "secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
    }
    return (replace(_account(default, keys_required=False), any_role=True),)


_ACCOUNT_KEYS = {
    "id",
    "appid",
    "access_key_id",
    "secret_access_key",
    "max_unfinished_jobs",
    "roles",
    "console_password",
}
_ROLE_KEYS = {"arn", "endpoint", "region", "access_key_id", "secret_access_key"}
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::\d{12}:role/.+$")


def _account(entry: Mapping[str, Any], keys_required: bool = True) -> Account:
    if not isinstance(entry, Mapping):
        raise ConfigError("each [[accounts]] entry must be a table")
    account_id = str(entry.get("id", ""))
    if not ACCOUNT_ID_PATTERN.match(account_id):
        raise ConfigError(f"account id {account_id!r} must be exactly 12 digits")
    _check_keys(entry, _ACCOUNT_KEYS, f"[[accounts]] {account_id}")
    if keys_required and not (entry.get("access_key_id") and entry.get("secret_access_key")):
        raise ConfigError(f"account {account_id} needs access_key_id and secret_access_key (its API keys)")
    appid = entry.get("appid")
    if appid is not None and not 1 <= len(str(appid)) <= 64:
        raise ConfigError(f"account {account_id}: appid must be 1 to 64 characters")
    limit = entry.get("max_unfinished_jobs")
    if limit is not None and _as_int(f"account {account_id} max_unfinished_jobs", limit) < 1:
        raise ConfigError(f"account {account_id}: max_unfinished_jobs must be at least 1")
    return Account(
        account_id,
        entry.get("access_key_id"),
        entry.get("secret_access_key"),
        appid=None if appid is None else str(appid),
        roles=tuple(_role(account_id, r) for r in entry.get("roles", [])),
        max_unfinished_jobs=None if limit is None else int(limit),
        console_password=entry.get("console_password"),
    )


def _role(account_id: str, entry: Any) -> Role:
    where = f"account {account_id} role"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each [[accounts.roles]] entry must be a table")
    _check_keys(entry, _ROLE_KEYS, f"[[accounts.roles]] of account {account_id}")
    arn = str(entry.get("arn", ""))
    if not _ROLE_ARN.match(arn):
        raise ConfigError(f"{where}: arn {arn!r} must be an IAM role ARN like arn:aws:iam::{account_id}:role/batch")
    if bool(entry.get("access_key_id")) != bool(entry.get("secret_access_key")):
        raise ConfigError(f"{where} {arn}: give both access_key_id and secret_access_key, or neither")
    return Role(
        arn,
        entry.get("endpoint"),
        entry.get("region"),
        entry.get("access_key_id"),
        entry.get("secret_access_key"),
    )


def _check_keys(entry: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
    """Refuse keys a config table does not know (a misspelt setting must not be silently ignored)."""
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in {where}; it accepts {', '.join(sorted(allowed))}")


def _check_unique(accounts: tuple[Account, ...]) -> None:
    checks: tuple[tuple[str, list[str | None]], ...] = (
        ("account id", [a.id for a in accounts]),
        ("access_key_id", [a.access_key_id for a in accounts]),
        ("appid", [a.cos_appid for a in accounts]),
    )
    for what, values in checks:
        repeated = sorted({v for v in values if values.count(v) > 1 and v is not None})
        if repeated:
            raise ConfigError(f"two accounts share the {what} {repeated[0]!r}; each must be unique")


_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


_FUNCTION_KEYS = ("arn", "url", "entry_point", "timeout_seconds", "max_attempts")


def _functions(declared: Any) -> tuple[FunctionTarget, ...]:
    targets = tuple(_function(entry) for entry in _table_list(declared, "functions"))
    arns = [t.arn for t in targets]
    if len(set(arns)) != len(arns):
        raise ConfigError("[[functions]] names the same arn twice; give each FunctionArn once")
    return targets


def _function(entry: Mapping[str, Any]) -> FunctionTarget:
    arn = str(entry.get("arn") or "")
    _check_keys(entry, _FUNCTION_KEYS, f"[[functions]] {arn or '(no arn)'}")
    if not arn:
        raise ConfigError(
            "[[functions]] entry (no arn): needs arn, one of url / entry_point, "
            "optional timeout_seconds and max_attempts"
        )
    url, entry_point = entry.get("url"), entry.get("entry_point")
    if (url is None) == (entry_point is None):
        raise ConfigError(f"[[functions]] {arn}: give exactly one of url (a webhook) or entry_point (module:function)")
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise ConfigError(f"[[functions]] {arn}: url must start with http:// or https://, not {url!r}")
    if entry_point is not None and not _ENTRY_POINT.match(str(entry_point)):
        raise ConfigError(f"[[functions]] {arn}: entry_point must look like package.module:function, not {entry_point}")
    timeout = float(entry.get("timeout_seconds", 60.0))
    attempts = _as_int(f"functions {arn} max_attempts", entry.get("max_attempts", 5))
    if timeout <= 0 or attempts < 1:
        raise ConfigError(f"[[functions]] {arn}: timeout_seconds must be > 0 and max_attempts at least 1")
    return FunctionTarget(
        arn, None if url is None else str(url), None if entry_point is None else str(entry_point), timeout, attempts
    )


# --- copy, cross-store targets and replicas ------------------------------------------------------

_COPY_INTS = (
    "copy_multipart_threshold_bytes",
    "copy_part_size_bytes",
    "copy_part_concurrency",
    "copy_stream_buffer_bytes",
)


def _with_copy_settings(settings: Settings, file_values: Mapping[str, Any]) -> Settings:
    for name in ("targets", "replicas"):
        if name in file_values:
            raise ConfigError(f"{name} belongs in [[{name}]] tables of the config file, not under [server]")
    limits: dict[str, Any] = {name: _as_int(name, getattr(settings, name)) for name in _COPY_INTS}
    for name, value in limits.items():
        if value < 1:
            raise ConfigError(f"setting {name} must be at least 1, not {value}")
    if not MIN_PART_BYTES <= limits["copy_part_size_bytes"] <= MAX_PART_BYTES:
        raise ConfigError(
            f"setting copy_part_size_bytes must be from {MIN_PART_BYTES} (5 MiB) to {MAX_PART_BYTES} (5 GiB), "
            f"S3's part size limits; not {limits['copy_part_size_bytes']}"
        )
    targets = tuple(_target(entry) for entry in _table_list(file_values.get("_targets"), "targets"))
    replicas = tuple(_replica(entry) for entry in _table_list(file_values.get("_replicas"), "replicas"))
    return replace(settings, **limits, targets=targets, replicas=replicas)


def _table_list(declared: Any, name: str) -> list[Mapping[str, Any]]:
    if declared is None:
        return []
    if not isinstance(declared, list) or not all(isinstance(entry, Mapping) for entry in declared):
        raise ConfigError(f"[[{name}]] must be an array of tables")
    return declared


def _target(entry: Mapping[str, Any]) -> TargetStore:
    _check_keys(entry, ("bucket", "endpoint", "region", "access_key_id", "secret_access_key"), "[[targets]]")
    bucket = _required_str(entry, "bucket", "targets")
    if bucket.startswith("arn:"):
        bucket = bucket.rsplit(":", 1)[-1]
    return TargetStore(
        bucket=bucket,
        endpoint=entry.get("endpoint"),
        region=str(entry.get("region", "us-east-1")),
        access_key_id=entry.get("access_key_id"),
        secret_access_key=entry.get("secret_access_key"),
    )


def _replica(entry: Mapping[str, Any]) -> Replica:
    _check_keys(entry, ("source_bucket", "target_bucket", "target_key_prefix"), "[[replicas]]")
    return Replica(
        source_bucket=_required_str(entry, "source_bucket", "replicas"),
        target_bucket=_required_str(entry, "target_bucket", "replicas"),
        target_key_prefix=str(entry.get("target_key_prefix", "")),
    )


def _required_str(entry: Mapping[str, Any], key: str, name: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"every [[{name}]] entry needs {key} (a non-empty string)")
    return value
