"""Jobs as code: a job described in a YAML file, turned into the keyword arguments of ``Client.create_job``.

``batchops job apply FILE.yaml`` and ``Client.apply`` use it. The file (README, "Jobs as code", has the schema)::

    description: tag the March import
    manifest: {file: objects.csv, bucket: "${BUCKET}"}
    operation:
      S3PutObjectTagging:
        TagSet: [{Key: project, Value: blue}]
    report: {bucket: "${BUCKET}", prefix: reports}

``${NAME}`` in any string is replaced by the caller's ``variables`` or the environment (``$${`` is a literal
``${``); an unset one is an error. The operation and the manifest generator are checked against the s3control
model boto3 uses (batchops's overlay included), so a wrong member fails here with its YAML path, before anything
is uploaded or sent.

The job's ClientRequestToken is a hash of the file's content after substitution (and of the local manifest file,
when there is one): applying the same file twice creates one job, changing it creates a new one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import yaml

from batchops.aws_hooks import add_data_path
from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY
from batchops.errors import ClientError
from batchops.tenancy import ACCOUNT_ID_PATTERN

#: What every token of an applied file starts with (the rest is its content's sha256, to the 64-character limit).
TOKEN_PREFIX = "apply-"
TOKEN_LENGTH = 64
_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REPORT_SCOPES = ("AllTasks", "FailedTasksOnly")
#: Keys a later version of ``Client.create_job`` takes (chains, dry run): passed through only when it does.
_LATER_KEYS = ("then", "dry_run")
#: Keys that do not change which job the file describes (left out of its token).
_NOT_IN_TOKEN = frozenset({"dry_run"})
_TOP_KEYS = (
    "version",
    "account",
    "description",
    "priority",
    "confirmation_required",
    "role_arn",
    "manifest",
    "operation",
    "report",
    "failure_threshold",
    "rate",
    "tags",
    *_LATER_KEYS,
)


class JobFileError(ClientError):
    """The job file is not valid; the message names the file, the YAML path and how to fix it."""


@dataclass(frozen=True)
class JobFile:
    """A loaded job file: the account it names (if any), its token and ``Client.create_job``'s arguments."""

    source: str
    account: str | None
    token: str
    create_arguments: dict[str, Any]


class _Problem(Exception):
    """One thing wrong at one YAML path; ``JobFileError`` adds the file's name."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(top)'}: {message}")


def load(
    source: str | Path,
    variables: Mapping[str, str] | None = None,
    accepts: Collection[str] = (),
    environ: Mapping[str, str] | None = None,
) -> JobFile:
    """Read ``source`` (a path, or the YAML text itself), substitute variables, check it; ``accepts`` are the
    keyword arguments ``Client.create_job`` takes (the later keys pass only if it takes them)."""
    text, name, base = _read(source)
    try:
        document = _parse(text)
        resolved = substitute(document, {**(os.environ if environ is None else environ), **(variables or {})})
        return _job_file(name, base, resolved, accepts)
    except _Problem as problem:
        raise JobFileError(f"{name}: {problem}") from None


def _read(source: str | Path) -> tuple[str, str, Path]:
    """(text, the name errors show, the directory a relative manifest file is read from)."""
    if isinstance(source, Path) or "\n" not in source:
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8"), str(path), path.parent
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise JobFileError(f"cannot read job file {path}: {reason}; give a readable YAML file") from None
    return source, "<job file>", Path.cwd()


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps: a date stays the string written (boto3 takes ISO 8601 strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse(text: str) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(top)"
        raise _Problem(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the syntax") from None
    if not isinstance(document, dict):
        raise _Problem("", "a job file is a YAML mapping (operation:, manifest:, ...); see README, Jobs as code")
    return document


# --- variables ------------------------------------------------------------------------------


def substitute(value: Any, variables: Mapping[str, str], path: str = "") -> Any:
    """``value`` with ``${NAME}`` in every string (keys too) replaced from ``variables``."""
    if isinstance(value, str):
        return _substitute_text(value, variables, path)
    if isinstance(value, list):
        return [substitute(item, variables, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            _substitute_text(str(key), variables, path): substitute(item, variables, _join(path, str(key)))
            for key, item in value.items()
        }
    return value


def _substitute_text(text: str, variables: Mapping[str, str], path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if not _VARIABLE_NAME.match(name):
            raise _Problem(path, f"${{{name}}} is not a variable name (letters, digits, _); write $${{ for a '${{'")
        if name not in variables:
            raise _Problem(
                path, f"variable ${{{name}}} is not set; set it in the environment or pass --var {name}=VALUE"
            )
        return variables[name]

    return _VARIABLE.sub(replace, text)


# --- the file -------------------------------------------------------------------------------


def _job_file(name: str, base: Path, document: dict[str, Any], accepts: Collection[str]) -> JobFile:
    _check_keys(document, _TOP_KEYS, "")
    version = document.get("version", 1)
    if version != 1:
        raise _Problem("version", f"{version!r} is not a version this batchops reads; write version: 1")
    manifest_file = _manifest_file(base, document)
    token = request_token(document, manifest_file.read_bytes() if manifest_file else b"")
    arguments = {
        "operation": _operation(document),
        **_manifest(document, manifest_file, token),
        **_settings(document),
        **_report(document),
        **_rate(document),
        **_later(document, accepts),
        "client_request_token": token,
    }
    return JobFile(name, _account(document), token, arguments)


def request_token(document: Mapping[str, Any], manifest_bytes: bytes = b"") -> str:
    """The ClientRequestToken of a file: its normalized content (keys sorted, whitespace and comments gone) and
    its local manifest's bytes, hashed."""
    identity = {key: value for key, value in document.items() if key not in _NOT_IN_TOKEN}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode())
    digest.update(hashlib.sha256(manifest_bytes).digest())
    return (TOKEN_PREFIX + digest.hexdigest())[:TOKEN_LENGTH]


def _account(document: Mapping[str, Any]) -> str | None:
    account = document.get("account")
    if account is None:
        return None
    account = str(account)
    if not ACCOUNT_ID_PATTERN.match(account):
        raise _Problem("account", f'{account!r} is not a 12-digit account id; quote it: account: "123456789012"')
    return account


def _operation(document: Mapping[str, Any]) -> dict[str, Any]:
    operation = _required_mapping(document, "operation", "e.g. operation: {S3PutObjectTagging: {TagSet: [...]}}")
    return checked_operation(operation, "operation")


def checked_operation(operation: Mapping[str, Any], path: str) -> dict[str, Any]:
    """One operation as boto3's ``Operation=`` takes it: ``{name: settings}``, checked against the model."""
    names = _operation_names()
    if len(operation) != 1:
        raise _Problem(path, f"give exactly one operation, one of {', '.join(names)}")
    ((kind, settings),) = operation.items()
    if kind not in names:
        raise _Problem(path, f"{kind} is not an operation batchops runs; use one of {', '.join(names)}")
    settings = {} if settings is None else settings
    check_shape(settings, _model().shape_for("JobOperation").members[kind], f"{path}.{kind}")
    return {kind: settings}


def _manifest_file(base: Path, document: Mapping[str, Any]) -> Path | None:
    manifest = document.get("manifest")
    if not isinstance(manifest, dict) or manifest.get("file") is None:
        return None
    path = base / str(manifest["file"])
    if not path.is_file():
        raise _Problem("manifest.file", f"{path} is not a file; give a CSV manifest's path (relative to the job file)")
    return path


def _manifest(document: Mapping[str, Any], manifest_file: Path | None, token: str) -> dict[str, Any]:
    hint = "e.g. manifest: {file: objects.csv, bucket: my-bucket} or {arn: arn:aws:s3:::bucket/manifest.csv}"
    manifest = _required_mapping(document, "manifest", hint)
    _check_keys(manifest, ("file", "bucket", "key", "arn", "etag", "fields", "generator"), "manifest")
    sources = [key for key in ("file", "arn", "generator") if key in manifest]
    if len(sources) != 1:
        raise _Problem("manifest", f"give exactly one of file (with bucket), arn or generator; {hint}")
    fields = _string_list(manifest.get("fields", ["Bucket", "Key"]), "manifest.fields")
    if sources == ["generator"]:
        return _generator(manifest)
    if manifest_file is not None:
        bucket = _string(manifest, "bucket", "manifest", "the bucket the file is uploaded to", required=True)
        # The same key every time, so a second apply uploads the same object and replays the same request.
        key = _string(manifest, "key", "manifest", "") or f"manifests/{token}-{manifest_file.name}"
        return {
            "manifest_file": manifest_file,
            "manifest_bucket": bucket,
            "manifest_key": key,
            "manifest_fields": fields,
        }
    return {
        "manifest_arn": _string(manifest, "arn", "manifest", "arn:aws:s3:::bucket/manifest.csv", required=True),
        "manifest_etag": _string(manifest, "etag", "manifest", ""),
        "manifest_fields": fields,
    }


def _generator(manifest: Mapping[str, Any]) -> dict[str, Any]:
    generator = manifest["generator"]
    check_shape(generator, _model().shape_for("S3JobManifestGenerator"), "manifest.generator")
    return {"manifest_generator": generator}


def _settings(document: Mapping[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if "priority" in document:
        priority = document["priority"]
        if not _is_int(priority) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise _Problem("priority", f"{priority!r} is not a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}")
        arguments["priority"] = priority
    if "confirmation_required" in document:
        arguments["confirmation_required"] = _boolean(document["confirmation_required"], "confirmation_required")
    for key in ("description", "role_arn"):
        if key in document:
            arguments[key] = _string(document, key, "", "")
    if "tags" in document:
        tags = _mapping(document["tags"], "tags", "e.g. tags: {team: storage}")
        arguments["tags"] = {str(key): _scalar_text(value, _join("tags", str(key))) for key, value in tags.items()}
    if "failure_threshold" in document:
        arguments["failure_threshold"] = _threshold(document["failure_threshold"])
    return arguments


def _threshold(value: Any) -> dict[str, Any]:
    threshold = _mapping(value, "failure_threshold", "e.g. failure_threshold: {min_tasks: 100, percent: 10}")
    _check_keys(threshold, ("min_tasks", "percent"), "failure_threshold")
    answer: dict[str, Any] = {}
    if "min_tasks" in threshold:
        if not _is_int(threshold["min_tasks"]) or threshold["min_tasks"] < 0:
            raise _Problem("failure_threshold.min_tasks", "give a whole number of tasks, 0 or more")
        answer["MinTasks"] = threshold["min_tasks"]
    if "percent" in threshold:
        percent = threshold["percent"]
        if not _is_number(percent) or not 0 <= percent <= 100:
            raise _Problem("failure_threshold.percent", f"{percent!r} is not a percentage from 0 to 100")
        answer["Percent"] = percent
    return answer


def _report(document: Mapping[str, Any]) -> dict[str, Any]:
    if document.get("report") is None:
        return {}
    report = _mapping(document["report"], "report", "e.g. report: {bucket: my-reports, prefix: batch}")
    _check_keys(report, ("bucket", "prefix", "scope"), "report")
    scope = report.get("scope", "AllTasks")
    if scope not in _REPORT_SCOPES:
        raise _Problem("report.scope", f"{scope!r} is not a report scope; write {' or '.join(_REPORT_SCOPES)}")
    return {
        "report_bucket": _string(report, "bucket", "report", "the bucket (name or ARN) to write it to", required=True),
        "report_prefix": _string(report, "prefix", "report", ""),
        "report_scope": scope,
    }


def _rate(document: Mapping[str, Any]) -> dict[str, Any]:
    if "rate" not in document:
        return {}
    rate = _mapping(document["rate"], "rate", "e.g. rate: {max_requests_per_second: 50, max_tasks_in_flight: 8}")
    _check_keys(rate, ("max_requests_per_second", "max_tasks_in_flight"), "rate")
    arguments: dict[str, Any] = {}
    if "max_requests_per_second" in rate:
        if not _is_number(rate["max_requests_per_second"]) or rate["max_requests_per_second"] <= 0:
            raise _Problem("rate.max_requests_per_second", "give a number of requests a second above 0")
        arguments["max_requests_per_second"] = float(rate["max_requests_per_second"])
    if "max_tasks_in_flight" in rate:
        if not _is_int(rate["max_tasks_in_flight"]) or rate["max_tasks_in_flight"] < 1:
            raise _Problem("rate.max_tasks_in_flight", "give a whole number of tasks, 1 or more")
        arguments["max_tasks_in_flight"] = rate["max_tasks_in_flight"]
    return arguments


def _later(document: Mapping[str, Any], accepts: Collection[str]) -> dict[str, Any]:
    """``then:`` (the operations of a chain, each checked as ``operation:`` is) and ``dry_run:`` go to
    ``Client.create_job`` once it takes them."""
    for key in _LATER_KEYS:
        if key in document and key not in accepts:
            raise _Problem(key, f"not supported by this version of batchops; remove {key}: or upgrade")
    later = {key: document[key] for key in _LATER_KEYS if key in document}
    if "then" in later:
        if not isinstance(later["then"], list) or not later["then"]:
            raise _Problem("then", "must be a list of operations, e.g. then: [{S3DeleteObjectTagging: {}}]")
        hint = "each is one operation, e.g. {S3DeleteObjectTagging: {}}"
        later["then"] = [
            checked_operation(_mapping(step, f"then[{index}]", hint), f"then[{index}]")
            for index, step in enumerate(later["then"])
        ]
    if "dry_run" in later:
        later["dry_run"] = _boolean(later["dry_run"], "dry_run")
    return later


# --- checks ---------------------------------------------------------------------------------


def check_shape(value: Any, shape: Any, path: str) -> None:
    """``value`` against a botocore shape (the form boto3 takes); a mismatch names its YAML path."""
    check = _SHAPE_CHECKS.get(shape.type_name, _check_scalar)
    check(value, shape, path)


def _check_structure(value: Any, shape: Any, path: str) -> None:
    if not shape.members:  # an operation without settings, e.g. S3DeleteObjectTagging
        if value != {}:
            raise _Problem(path, "takes no settings; write {}")
        return
    structure = _mapping(value, path, f"e.g. {{{', '.join(list(shape.members)[:2])}: ...}}")
    _check_keys(structure, tuple(shape.members), path)
    for member in shape.required_members:
        if member not in structure:
            raise _Problem(_join(path, member), "required; add it")
    for member, item in structure.items():
        check_shape(item, shape.members[member], _join(path, member))


def _check_list(value: Any, shape: Any, path: str) -> None:
    if not isinstance(value, list):
        raise _Problem(path, "must be a list (- item per line, or [a, b])")
    for index, item in enumerate(value):
        check_shape(item, shape.member, f"{path}[{index}]")


def _check_map(value: Any, shape: Any, path: str) -> None:
    for key, item in _mapping(value, path, "e.g. {name: value}").items():
        check_shape(key, shape.key, path)
        check_shape(item, shape.value, _join(path, str(key)))


def _check_scalar(value: Any, shape: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "boolean":
        _boolean(value, path)
    elif kind in ("integer", "long") and not _is_int(value):
        raise _Problem(path, f"{value!r} is not a whole number")
    elif kind in ("float", "double") and not _is_number(value):
        raise _Problem(path, f"{value!r} is not a number")
    elif kind in ("string", "timestamp", "blob") and not isinstance(value, str):
        raise _Problem(path, f"{value!r} is not a string; quote it: '{value}'")
    enum = getattr(shape, "enum", None) or []
    if enum and value not in enum:
        raise _Problem(path, f"{value!r} is not one of {', '.join(enum)}")


_SHAPE_CHECKS: dict[str, Callable[[Any, Any, str], None]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
}


def _check_keys(mapping: Mapping[str, Any], allowed: Collection[str], path: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise _Problem(_join(path, str(key)), f"unknown key; use one of {', '.join(allowed)}")


def _required_mapping(document: Mapping[str, Any], key: str, hint: str) -> dict[str, Any]:
    if document.get(key) is None:
        raise _Problem(key, f"required; {hint}")
    return _mapping(document[key], key, hint)


def _mapping(value: Any, path: str, hint: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(path, f"must be a mapping; {hint}")
    return value


def _string(mapping: Mapping[str, Any], key: str, path: str, hint: str, *, required: bool = False) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required:
            raise _Problem(_join(path, key), f"required; give {hint}")
        return None
    if not isinstance(value, str) or not value:
        raise _Problem(_join(path, key), f"{value!r} is not a non-empty string; quote it")
    return value


def _string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Problem(path, "must be a list of names, e.g. [Bucket, Key] or [Bucket, Key, VersionId]")
    return value


def _scalar_text(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Problem(path, f"{value!r} is not a string; quote it")
    return str(value)


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Problem(path, f"{value!r} is not true or false")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@functools.cache
def _operation_names() -> tuple[str, ...]:
    # The registry is the server's side (every operation's code): loaded when a file is checked, not with the client.
    from batchops.operations.registry import supported_names

    return tuple(supported_names())


@functools.cache
def _model() -> Any:
    """boto3's s3control model with batchops's overlay: the shapes ``Operation=`` and ``ManifestGenerator=`` take."""
    session = botocore.session.get_session()
    add_data_path(session.get_component("data_loader"))
    return session.get_service_model("s3control")
