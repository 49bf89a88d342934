"""JobSpec ⇄ JSON and table rows → domain Job, so the store keeps plain columns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from batchops.domain.job import (
    FailureReason,
    FailureThreshold,
    Job,
    JobSpec,
    ManifestLocation,
    ManifestSpec,
    OperationSpec,
    Progress,
    ReportSpec,
)
from batchops.domain.status import JobStatus


def spec_to_json(spec: JobSpec) -> str:
    return json.dumps(asdict(spec), sort_keys=True, separators=(",", ":"))


def spec_from_json(text: str) -> JobSpec:
    data = json.loads(text)
    manifest = data["manifest"]
    return JobSpec(
        client_request_token=data["client_request_token"],
        priority=data["priority"],
        role_arn=data["role_arn"],
        manifest=ManifestSpec(
            format=manifest["format"],
            fields=tuple(manifest["fields"]),
            location=ManifestLocation(**manifest["location"]),
        ),
        operation=OperationSpec(**data["operation"]),
        report=ReportSpec(**data["report"]),
        confirmation_required=data["confirmation_required"],
        description=data["description"],
        threshold=FailureThreshold(**data["threshold"]),
    )


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
    )
