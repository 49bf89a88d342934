"""JobSpec ⇄ JSON and table rows → domain Job, so the store keeps plain columns."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from batchops.domain.job import (
    ChainLink,
    FailureReason,
    FailureThreshold,
    GeneratedManifest,
    GeneratorFilter,
    GeneratorSpec,
    Job,
    JobSpec,
    ManifestLocation,
    ManifestOutputSpec,
    ManifestSpec,
    OperationSpec,
    Progress,
    RateCaps,
    ReportSpec,
    WebhookTarget,
)
from batchops.domain.status import JobStatus, PausedBy


def spec_to_json(spec: JobSpec) -> str:
    data = asdict(spec)
    if data["generator"] is None:  # a manifest job's JSON (and fingerprint) stays what it was before generators
        del data["generator"]
    if spec.rate.empty:  # likewise a job without rate caps
        del data["rate"]
    if not spec.then:  # and one that starts no chain
        del data["then"]
    if spec.chain is None:
        del data["chain"]
    if not spec.dry_run:  # and one that is not a dry run
        del data["dry_run"]
    if spec.webhook is None:  # and one without a webhook of its own
        del data["webhook"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def spec_from_json(text: str) -> JobSpec:
    """The spec a job was created with. Cached: the engine reads every unfinished job each tick, and a spec
    never changes once stored (its priority and caps live in columns of their own)."""
    data = json.loads(text)
    return JobSpec(
        client_request_token=data["client_request_token"],
        priority=data["priority"],
        role_arn=data["role_arn"],
        manifest=_manifest_from_json(data["manifest"]),
        operation=OperationSpec(**data["operation"]),
        report=ReportSpec(**data["report"]),
        confirmation_required=data["confirmation_required"],
        description=data["description"],
        threshold=FailureThreshold(**data["threshold"]),
        generator=_generator_from_json(data.get("generator")),
        rate=RateCaps(**data.get("rate", {})),
        then=tuple(OperationSpec(**step) for step in data.get("then", ())),
        chain=ChainLink(**data["chain"]) if data.get("chain") else None,
        dry_run=data.get("dry_run", False),
        webhook=WebhookTarget(**data["webhook"]) if data.get("webhook") else None,
    )


def _manifest_from_json(manifest: dict[str, Any] | None) -> ManifestSpec | None:
    if manifest is None:
        return None
    return ManifestSpec(
        format=manifest["format"],
        fields=tuple(manifest["fields"]),
        location=ManifestLocation(**manifest["location"]),
    )


def _generator_from_json(generator: dict[str, Any] | None) -> GeneratorSpec | None:
    if generator is None:
        return None
    output = generator["output"]
    filters: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in generator["filter"].items()}
    return GeneratorSpec(
        source_bucket=generator["source_bucket"],
        enable_manifest_output=generator["enable_manifest_output"],
        expected_bucket_owner=generator["expected_bucket_owner"],
        output=None if output is None else ManifestOutputSpec(**output),
        filter=GeneratorFilter(**filters),
        include_all_versions=generator["include_all_versions"],
    )


def generated_manifest_to_json(manifest: GeneratedManifest) -> str:
    return json.dumps(asdict(manifest), sort_keys=True, separators=(",", ":"))


def generated_manifest_from_json(text: str | None) -> GeneratedManifest | None:
    return None if text is None else GeneratedManifest(**json.loads(text))


def fingerprint(spec: JobSpec, tags: list[dict[str, str]]) -> str:
    """Identifies a CreateJob request, to tell a replay (same token, same body) from a conflict."""
    return hashlib.sha256((spec_to_json(spec) + json.dumps(tags, sort_keys=True)).encode()).hexdigest()


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def elapsed_active(row: Any, now: float) -> int:
    running = now - row.active_since if row.active_since is not None else 0.0
    return int(row.active_seconds + max(running, 0.0))


def job_from_row(row: Any, now: float) -> Job:
    created = to_datetime(row.creation_time)
    assert created is not None
    return Job(
        id=row.id,
        account_id=row.account_id,
        spec=spec_from_json(row.spec),
        status=JobStatus(row.status),
        priority=row.priority,
        creation_time=created,
        progress=Progress(row.total_tasks, row.succeeded, row.failed, elapsed_active(row, now)),
        status_update_reason=row.status_update_reason,
        termination_time=to_datetime(row.termination_time),
        suspended_time=to_datetime(row.suspended_time),
        suspended_cause=row.suspended_cause,
        failure_reasons=tuple(FailureReason(**f) for f in json.loads(row.failure_reasons)),
        manifest_done=bool(row.manifest_done),
        generated_manifest=generated_manifest_from_json(row.generated_manifest),
        hold_reason=row.hold_reason,
        rate=RateCaps(row.max_requests_per_second, row.max_tasks_in_flight),
        paused_by=PausedBy(row.paused_by) if row.paused_by else None,
    )
