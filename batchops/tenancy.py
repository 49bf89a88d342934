"""Who may use the server and where their work goes: accounts and their roles, LambdaInvoke's functions, buckets
on other stores and replicas; each read from its config-file tables (``[[accounts]]``, ``[[functions]]``,
``[[targets]]``, ``[[replicas]]``), refusing what it does not understand.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from batchops.errors import ConfigError, ValidationError
from batchops.knobs import whole_number
from batchops.webhooks import check_secret, check_url

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
    #: Where its jobs' status moves are POSTed, signed with ``webhook_secret`` (a job's BatchOpsWebhook wins).
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

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


# --- accounts and roles --------------------------------------------------------------------------

_ACCOUNT_KEYS = {
    "id",
    "appid",
    "access_key_id",
    "secret_access_key",
    "max_unfinished_jobs",
    "roles",
    "console_password",
    "webhook_url",
    "webhook_secret",
}
_ROLE_KEYS = {"arn", "endpoint", "region", "access_key_id", "secret_access_key"}
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::\d{12}:role/.+$")


def read_accounts(declared: Any) -> tuple[Account, ...]:
    """The ``[[accounts]]`` tables, each id, access key and APPID once."""
    if not isinstance(declared, list):
        raise ConfigError("accounts must be declared as [[accounts]] tables")
    accounts = tuple(_account(entry) for entry in declared)
    _check_unique(accounts)
    return accounts


def default_account(account_id: str, access_key_id: str | None, secret_access_key: str | None) -> Account:
    """The one account of a server without ``[[accounts]]``: any RoleArn, keys optional."""
    entry = {"id": account_id, "access_key_id": access_key_id, "secret_access_key": secret_access_key}
    return replace(_account(entry, keys_required=False), any_role=True)


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
    if limit is not None and whole_number(f"account {account_id} max_unfinished_jobs", limit) < 1:
        raise ConfigError(f"account {account_id}: max_unfinished_jobs must be at least 1")
    webhook_url, webhook_secret = _webhook(account_id, entry)
    return Account(
        account_id,
        entry.get("access_key_id"),
        entry.get("secret_access_key"),
        appid=None if appid is None else str(appid),
        roles=tuple(_role(account_id, r) for r in entry.get("roles", [])),
        max_unfinished_jobs=None if limit is None else int(limit),
        console_password=entry.get("console_password"),
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )


def _webhook(account_id: str, entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``webhook_url`` and ``webhook_secret``: both or neither, checked as CreateJob checks BatchOpsWebhook."""
    url, secret = entry.get("webhook_url"), entry.get("webhook_secret")
    if url is None and secret is None:
        return None, None
    if not isinstance(url, str) or not isinstance(secret, str):
        raise ConfigError(
            f"account {account_id}: give both webhook_url (http:// or https://) and webhook_secret (text), or neither"
        )
    try:
        check_url(url, "webhook_url")
        check_secret(secret, "webhook_secret")
    except ValidationError as exc:
        raise ConfigError(f"account {account_id}: {exc}") from None
    return url, secret


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


# --- functions (LambdaInvoke) --------------------------------------------------------------------

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_FUNCTION_KEYS = ("arn", "url", "entry_point", "timeout_seconds", "max_attempts")


def read_functions(declared: Any) -> tuple[FunctionTarget, ...]:
    """The ``[[functions]]`` tables, each FunctionArn once."""
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
    attempts = whole_number(f"functions {arn} max_attempts", entry.get("max_attempts", 5))
    if timeout <= 0 or attempts < 1:
        raise ConfigError(f"[[functions]] {arn}: timeout_seconds must be > 0 and max_attempts at least 1")
    return FunctionTarget(
        arn, None if url is None else str(url), None if entry_point is None else str(entry_point), timeout, attempts
    )


# --- buckets on other stores, replicas -----------------------------------------------------------


def read_targets(declared: Any) -> tuple[TargetStore, ...]:
    """The ``[[targets]]`` tables: buckets that live on another store than ``s3_endpoint``."""
    return tuple(_target(entry) for entry in _table_list(declared, "targets"))


def read_replicas(declared: Any) -> tuple[Replica, ...]:
    """The ``[[replicas]]`` tables: where S3ReplicateObject copies each source bucket's objects."""
    return tuple(_replica(entry) for entry in _table_list(declared, "replicas"))


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
