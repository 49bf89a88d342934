"""THE config reader. Precedence: command-line flag > environment > config file (TOML) > default.

No other module reads the environment or the config file; everything else receives a Settings. Each knob is
declared once, on its field: its environment variable, bounds and help (``batchops.knobs``); the loader and the
``batchops server`` options are derived from that. The tables (accounts, functions, targets, replicas) are read
by ``batchops.tenancy``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from batchops.domain.job import FailureThreshold
from batchops.errors import ConfigError
from batchops.knobs import Knob, choice, directory, file, flag_name, knob_of, read, seconds, text, whole, whole_number
from batchops.tenancy import (
    Account,
    FunctionTarget,
    Replica,
    Role,
    TargetStore,
    default_account,
    read_accounts,
    read_functions,
    read_replicas,
    read_targets,
)

#: Worker processes one server may start (each is a Python process with its own S3 connections).
MAX_WORKERS = 64

MIB = 1024 * 1024
GIB = 1024 * MIB
#: S3's smallest part (all but the last) and largest part.
MIN_PART_BYTES = 5 * MIB
MAX_PART_BYTES = 5 * GIB

#: Who runs the tasks of Active jobs (``dispatch``).
DISPATCHERS = ("local", "procrastinate")
S3_CLIENTS = ("lean", "botocore")
LOG_FORMATS = ("text", "json")
METRICS_CHOICES = ("on", "off")


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata=text("Address to listen on", env="BATCHOPS_HOST", flag=True))
    port: int = field(default=8080, metadata=whole("Port to listen on", env="BATCHOPS_PORT", flag=True))
    data_dir: Path = field(
        default=Path(".data/batchops"),
        metadata=directory("Where the SQLite state lives", env="BATCHOPS_DATA_DIR", flag=True),
    )
    database: str | None = field(
        default=None,
        metadata=text(
            "The job store's database: postgresql://user[:password]@host[:port]/name, or a SQLite file "
            "(sqlite:///path or a path); none: SQLite under data_dir",
            env="BATCHOPS_DATABASE_URL",
            flag=True,
        ),
    )
    s3_endpoint: str | None = field(
        default=None,
        metadata=text(
            "URL of the S3-compatible store tasks act on (none: AWS's default endpoint resolution)",
            env="BATCHOPS_S3_ENDPOINT",
            flag=True,
        ),
    )
    s3_region: str = field(default="us-east-1", metadata=text("Region of the store at s3_endpoint", env="AWS_REGION"))
    max_active_jobs: int = field(
        default=1,
        metadata=whole(
            "Jobs Active at once; higher priorities first, the rest wait in Ready or Paused",
            env="BATCHOPS_MAX_ACTIVE_JOBS",
            flag=True,
        ),
    )
    small_job_tasks: int = field(
        default=1000,
        metadata=whole(
            "A job of at most this many tasks is small: it runs in the small jobs' own slots (small_job_slots), so "
            "it never waits behind a big job",
            env="BATCHOPS_SMALL_JOB_TASKS",
            minimum=0,
        ),
    )
    small_job_slots: int = field(
        default=64,
        metadata=whole(
            "Small jobs Active at once, beside max_active_jobs; higher priorities first among them; 0: small jobs "
            "share max_active_jobs with the rest",
            env="BATCHOPS_SMALL_JOB_SLOTS",
            flag=True,
            minimum=0,
        ),
    )
    task_concurrency: int = field(
        default=64,
        metadata=whole(
            "Tasks in flight at once, over all jobs (each holds one HTTP connection); with workers, shared among them",
            env="BATCHOPS_TASK_CONCURRENCY",
            flag=True,
        ),
    )
    workers: int = field(
        default=0,
        metadata=whole(
            "Worker processes that run the tasks; 0: the server process runs them, on its one event loop. "
            "Recommended: the number of CPU cores (at least 2) for jobs of many small tasks",
            env="BATCHOPS_WORKERS",
            flag=True,
            minimum=0,
            maximum=MAX_WORKERS,
            range_words=f"from 0 (tasks run in the server process) to {MAX_WORKERS}",
        ),
    )
    dispatch: str = field(
        default="local",
        metadata=choice(
            'Who runs the tasks: "local" (the server, or its --workers processes) or "procrastinate" (the '
            "batchops worker processes on any machine; needs PostgreSQL)",
            DISPATCHERS,
            env="BATCHOPS_DISPATCH",
            flag=True,
        ),
    )
    dispatch_window: int = field(
        default=32,
        metadata=whole(
            "With --dispatch procrastinate: chunk jobs queued or running at once, cluster-wide (about twice the "
            "workers' chunk slots: all of them --concurrency summed)",
            env="BATCHOPS_DISPATCH_WINDOW",
            flag=True,
        ),
    )
    dispatch_per_job: int = field(
        default=16,
        metadata=whole(
            "With --dispatch procrastinate: chunk jobs queued or running at once for one job, so jobs of one "
            "priority share the workers",
            env="BATCHOPS_DISPATCH_PER_JOB",
            flag=True,
        ),
    )
    chunk_size: int = field(
        default=1000,
        metadata=whole(
            "Manifest rows per unit of work a worker claims; also the Preparing checkpoint interval",
            env="BATCHOPS_CHUNK_SIZE",
        ),
    )
    worker_stall_seconds: float = field(
        default=30.0,
        metadata=seconds(
            "With --dispatch procrastinate: a batchops worker silent this long (no heartbeat; killed, frozen, cut "
            "off) is dead, and its chunk jobs are queued again for the others",
            env="BATCHOPS_WORKER_STALL_SECONDS",
        ),
    )
    chunk_lease_seconds: float = field(
        default=60.0,
        metadata=seconds(
            "How long a batchops worker's claim on a chunk lasts unless renewed (every third of it); a dead or frozen "
            "worker's chunk goes to another once it lapses",
            env="BATCHOPS_CHUNK_LEASE_SECONDS",
        ),
    )
    s3_max_attempts: int = field(
        default=6,
        metadata=whole("Attempts per S3 call (retries throttling, 5xx, timeouts, connection errors with backoff)"),
    )
    s3_timeout_seconds: float = field(
        default=30.0, metadata=seconds("Seconds one attempt of an S3 call may take (connect and read)")
    )
    store_outage_max_seconds: float = field(
        default=3600.0,
        metadata=seconds(
            "A job whose object store stays unreachable (or answers 5xx/throttling to most requests) holds, "
            "without failing tasks, for up to this long; then it fails with StoreUnavailable",
            env="BATCHOPS_STORE_OUTAGE_MAX_SECONDS",
        ),
    )
    s3_client: str = field(
        default="lean",
        metadata=choice(
            'The client of the hot S3 calls: "lean" (signed HTTP, adaptive concurrency) or "botocore" (the SDK only)',
            S3_CLIENTS,
            env="BATCHOPS_S3_CLIENT",
        ),
    )
    #: ``[threshold]``: when a job fails for its failed tasks.
    threshold: FailureThreshold = field(default_factory=FailureThreshold)
    retention_days: int = field(
        default=90, metadata=whole("Days a terminal job stays listed and describable before it is purged")
    )
    #: ``[[accounts]]``: who may sign requests, and where each account's jobs act.
    accounts: tuple[Account, ...] = ()
    max_unfinished_jobs_per_account: int = field(
        default=1000,
        metadata=whole(
            "Unfinished (not Complete/Cancelled/Failed) jobs an account may have; more: TooManyRequestsException",
            env="BATCHOPS_MAX_UNFINISHED_JOBS",
        ),
    )
    #: ``[[functions]]``: the functions LambdaInvoke jobs may name, by FunctionArn.
    functions: tuple[FunctionTarget, ...] = ()
    copy_multipart_threshold_bytes: int = field(
        default=5 * GIB,
        metadata=whole(
            "Copies of sources larger than this use multipart copy (UploadPartCopy); S3 allows 5 GiB per CopyObject"
        ),
    )
    copy_part_size_bytes: int = field(
        default=16 * MIB,
        metadata=whole(
            "Part size of multipart copies and of streamed cross-store copies (raised to stay within 10,000 parts)",
            minimum=MIN_PART_BYTES,
            maximum=MAX_PART_BYTES,
            range_words=f"from {MIN_PART_BYTES} (5 MiB) to {MAX_PART_BYTES} (5 GiB), S3's part size limits",
        ),
    )
    copy_part_concurrency: int = field(default=4, metadata=whole("Parts of one object copied at once"))
    copy_stream_buffer_bytes: int = field(
        default=128 * MIB,
        metadata=whole("Bytes of object data buffered at once, over all tasks, by copies streamed between stores"),
    )
    #: ``[[targets]]``: buckets that live on another store than ``s3_endpoint`` (copy targets, replicas).
    targets: tuple[TargetStore, ...] = ()
    #: ``[[replicas]]``: where S3ReplicateObject copies each source bucket's objects.
    replicas: tuple[Replica, ...] = ()
    #: ``[[store_rates]]``: requests per second to a store endpoint, over all jobs (endpoint URL, cap).
    store_rates: tuple[tuple[str, float], ...] = ()
    outcome_record_attempts: int = field(
        default=20,
        metadata=whole(
            "Attempts to record a batch of task outcomes (waits doubling from 0.25 s to 30 s, about 6.5 minutes "
            "for 20) before the job goes Failing with OutcomeRecordFailed; its tasks never run again meanwhile",
            env="BATCHOPS_OUTCOME_RECORD_ATTEMPTS",
        ),
    )
    session_secret: str | None = field(
        default=None,
        repr=False,
        metadata=text(
            "Signs console session cookies; none: a random one kept in the data dir (sessions survive restarts)",
            env="BATCHOPS_SESSION_SECRET",
        ),
    )
    tls_cert: Path | None = field(
        default=None,
        metadata=file(
            "Serve HTTPS with this PEM certificate (chain); needs --tls-key. The console cookie is then Secure",
            env="BATCHOPS_TLS_CERT",
            flag=True,
        ),
    )
    tls_key: Path | None = field(default=None, metadata=file("The PEM private key", env="BATCHOPS_TLS_KEY", flag=True))
    head_timeout_seconds: float = field(
        default=10.0,
        metadata=seconds("Seconds a client has to send a request's head", env="BATCHOPS_HEAD_TIMEOUT_SECONDS"),
    )
    body_timeout_seconds: float = field(
        default=30.0,
        metadata=seconds("Seconds a client has to send a (signed) request's body", env="BATCHOPS_BODY_TIMEOUT_SECONDS"),
    )
    max_connections: int | None = field(
        default=None,
        metadata=whole(
            "Connections open at once; none: derived from the open-file limit (RLIMIT_NOFILE) at start",
            env="BATCHOPS_MAX_CONNECTIONS",
        ),
    )
    webhook_retry_seconds: float = field(
        default=2.0,
        metadata=seconds(
            "Webhooks: the wait before a failed delivery's first retry (doubling, with jitter, up to an hour)",
            env="BATCHOPS_WEBHOOK_RETRY_SECONDS",
        ),
    )
    webhook_give_up_seconds: float = field(
        default=86400.0,
        metadata=seconds(
            "Webhooks: how long an event is retried before it is given up on (the job's next event is sent then)",
            env="BATCHOPS_WEBHOOK_GIVE_UP_SECONDS",
        ),
    )
    login_delay_seconds: float = field(
        default=1.0,
        metadata=seconds(
            "Console sign-in: the first delay after too many failures (it doubles with each further failure)",
            env="BATCHOPS_LOGIN_DELAY_SECONDS",
        ),
    )
    log_format: str = field(
        default="text",
        metadata=choice(
            'Log lines: "text" (one line of words each) or "json" (one JSON object per line: time, level, logger, '
            "message, job_id when the line is about a job, and the line's fields)",
            LOG_FORMATS,
            env="BATCHOPS_LOG_FORMAT",
            flag=True,
        ),
    )
    metrics: str = field(
        default="on",
        metadata=choice(
            'Prometheus metrics at /metrics: "on" (unauthenticated, on the API port unless metrics_port is set) '
            'or "off"',
            METRICS_CHOICES,
            env="BATCHOPS_METRICS",
            flag=True,
        ),
    )
    metrics_port: int | None = field(
        default=None,
        metadata=whole(
            "Serve /metrics on this port of the host instead of the API port (batchops worker: its own /metrics, "
            "none without it)",
            env="BATCHOPS_METRICS_PORT",
            flag=True,
            maximum=65535,
        ),
    )

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
    def database_url(self) -> str:
        """Where the job store lives: ``database`` if given, else the SQLite file under ``data_dir``."""
        return self.database or str(self.database_path)

    @property
    def rate_share(self) -> int:
        """The processes running tasks, among which each rate cap is divided evenly (``workers``, at least 1)."""
        return max(1, self.workers)

    @property
    def worker_task_concurrency(self) -> int:
        """Tasks in flight in one worker process: ``task_concurrency`` shared evenly among the workers."""
        return max(1, -(-self.task_concurrency // max(self.workers, 1)))


#: Every knob of Settings by name, in declaration order (the loader, `batchops server` and the README read these).
KNOBS: Mapping[str, Knob] = {f.name: k for f in fields(Settings) if (k := knob_of(f.metadata)) is not None}


@dataclass(frozen=True)
class _ConfigFile:
    """What a TOML config file says: ``[server]`` knobs, and its tables (None: not there)."""

    where: str = ""
    server: Mapping[str, Any] = field(default_factory=dict)
    threshold: Any = None
    accounts: Any = None
    functions: Any = None
    targets: Any = None
    replicas: Any = None
    store_rates: Any = None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build the Settings from flags (None values are 'not given'), environment and an optional TOML file."""
    environ = os.environ if environ is None else environ
    config = _read_file(config_file) if config_file else _ConfigFile()
    knobs = _knob_values(flags or {}, environ, config)
    _check_tls(knobs.get("tls_cert"), knobs.get("tls_key"))
    return Settings(
        **knobs,
        threshold=FailureThreshold() if config.threshold is None else _threshold(config.threshold),
        accounts=_accounts(config.accounts, environ),
        functions=read_functions(config.functions),
        targets=read_targets(config.targets),
        replicas=read_replicas(config.replicas),
        store_rates=_store_rates(config.store_rates),
    )


def _knob_values(flags: Mapping[str, Any], environ: Mapping[str, str], config: _ConfigFile) -> dict[str, Any]:
    """Each knob given somewhere, from the first place that gives it, converted and checked against its bounds."""
    unknown = sorted(set(flags) - set(KNOBS))
    if unknown:
        raise ConfigError(f"unknown setting flag(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, knob in KNOBS.items():
        given = _given(name, knob, flags, environ, config)
        if given is not None:
            value, source = given
            values[name] = read(name, knob, value, source)
    return values


def _given(
    name: str, knob: Knob, flags: Mapping[str, Any], environ: Mapping[str, str], config: _ConfigFile
) -> tuple[Any, str] | None:
    """The value and where it came from (for refusals); an empty environment variable counts as not set."""
    if flags.get(name) is not None:
        return flags[name], flag_name(name)
    if knob.env is not None and environ.get(knob.env):
        return environ[knob.env], f"{knob.env} in the environment"
    if name in config.server:
        return config.server[name], config.where
    return None


def _check_tls(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise ConfigError("give both tls_cert and tls_key (--tls-cert, --tls-key) to serve HTTPS, or neither")
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise ConfigError(f"TLS file {path} does not exist or is not a file; give the PEM file's path")


def _threshold(table: Any) -> FailureThreshold:
    if not isinstance(table, Mapping):
        raise ConfigError("[threshold] must be a table with min_tasks and percent")
    threshold = FailureThreshold(
        min_tasks=whole_number("threshold.min_tasks", table.get("min_tasks", 1000)),
        percent=float(table.get("percent", 50.0)),
    )
    if threshold.min_tasks < 0 or not 0 <= threshold.percent <= 100:
        raise ConfigError("threshold.min_tasks must be ≥ 0 and threshold.percent from 0 to 100")
    return threshold


def _store_rates(declared: Any) -> tuple[tuple[str, float], ...]:
    """``[[store_rates]]`` entries: ``endpoint = "https://..."`` and ``max_requests_per_second = N`` (N > 0)."""
    if declared is None:
        return ()
    if not isinstance(declared, list):
        raise ConfigError("store_rates must be [[store_rates]] tables, each with endpoint and max_requests_per_second")
    rates = []
    for entry in declared:
        endpoint = entry.get("endpoint") if isinstance(entry, Mapping) else None
        cap = entry.get("max_requests_per_second") if isinstance(entry, Mapping) else None
        if not isinstance(endpoint, str) or isinstance(cap, bool) or not isinstance(cap, int | float) or cap <= 0:
            raise ConfigError(
                "each [[store_rates]] needs endpoint (the store's URL, as in s3_endpoint) and "
                f"max_requests_per_second (a number above 0); got {entry!r}"
            )
        rates.append((endpoint.rstrip("/"), float(cap)))
    return tuple(rates)


def _accounts(declared: Any, environ: Mapping[str, str]) -> tuple[Account, ...]:
    if declared:
        return read_accounts(declared)
    account_id = environ.get("BATCHOPS_ACCOUNT_ID", "123456789012")
    return (default_account(account_id, environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")),)


#: Tables whose entries are not knobs: they belong at the top level of the file, as [[name]].
_TABLES = ("targets", "replicas", "store_rates")


def _read_file(path: Path) -> _ConfigFile:
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
    unknown = set(server) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown setting(s) in [server] of {path}: {', '.join(sorted(unknown))}")
    for name in _TABLES:
        if name in server:
            raise ConfigError(f"{name} belongs in [[{name}]] tables of the config file, not under [server]")
    return _ConfigFile(
        where=f"[server] in {path}",
        server=server,
        threshold=data.get("threshold", server.get("threshold")),
        accounts=data.get("accounts"),
        functions=data.get("functions"),
        targets=data.get("targets"),
        replicas=data.get("replicas"),
        store_rates=data.get("store_rates"),
    )
