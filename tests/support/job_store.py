"""Builders for the job store's tests: a job spec, a job moved along the status table, chunks of manifest rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchops.domain.job import FailureThreshold, JobSpec, ManifestLocation, ManifestSpec, OperationSpec, ReportSpec
from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef
from batchops.manifests.chunks import encode_rows
from batchops.manifests.source import Position, SourceRow
from batchops.store.base import ChunkBlob, Store

ACCOUNT = "111111111111"


def make_spec(token: str = "token-1", priority: int = 10, **changes: Any) -> JobSpec:
    values: dict[str, Any] = {
        "client_request_token": token,
        "priority": priority,
        "role_arn": "arn:aws:iam::111111111111:role/batch",
        "manifest": ManifestSpec(
            "S3BatchOperations_CSV_20180820",
            ("Bucket", "Key"),
            ManifestLocation("arn:aws:s3:::manifests/m.csv", "etag-1"),
        ),
        "operation": OperationSpec("S3DeleteObjectTagging", {}, "<S3DeleteObjectTagging />"),
        "report": ReportSpec(enabled=False),
        "description": "unit test job",
        "threshold": FailureThreshold(min_tasks=10, percent=50.0),
    }
    values.update(changes)
    return JobSpec(**values)


async def new_job(store: Store, token: str = "token-1", account: str = ACCOUNT, **changes: Any) -> str:
    job_id, created = await store.create_job(account, make_spec(token, **changes), [])
    assert created
    return job_id


async def drive(store: Store, job_id: str, *steps: JobStatus) -> None:
    for step in steps:
        assert await store.transition(job_id, step, f"to {step.value}"), f"move to {step.value} refused"


@dataclass(frozen=True)
class Row:
    """One manifest row of a test chunk: its task seq, and its object or why it names none."""

    seq: int
    target: ObjectRef | None
    error: str = ""
    raw: str = ""


def good(seq: int, bucket: str = "b") -> Row:
    return Row(seq, ObjectRef(bucket, f"k{seq:03d}"))


def blob(chunk_no: int, rows: list[Row]) -> ChunkBlob:
    data = encode_rows([SourceRow(Position(), r.target, r.error, r.raw) for r in rows])
    return ChunkBlob(chunk_no, rows[0].seq, len(rows), data)


async def add_chunk(
    store: Store, job_id: str, chunk_no: int, rows: list[Row], lines_read: int, cursor: str | None = None
) -> None:
    """What Preparing stores for one chunk of rows (none: only the checkpoint moves)."""
    await store.add_chunks(job_id, [blob(chunk_no, rows)] if rows else [], lines_read, cursor)
