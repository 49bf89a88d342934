"""Jobs for the runner's tests: an operation that records what it ran, and a job already Active on the store."""

from __future__ import annotations

import asyncio
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.job import FailureThreshold, JobSpec, ManifestLocation, ManifestSpec, OperationSpec, ReportSpec
from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef
from batchops.manifests.chunks import encode_lines
from batchops.operations.base import NoParams, Operation, TaskContext
from batchops.store.base import ChunkBlob, Store

S = JobStatus


class Counted:
    """A store whose calls to ``method`` are counted in ``calls`` (every other attribute passes through)."""

    def __init__(self, store: Store, method: str) -> None:
        self._store, self._method = store, method
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name != self._method:
            return found

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await found(*args, **kwargs)

        return counted


class Recording(Operation[NoParams]):
    """Succeeds like the no-op, remembering each object it ran on and how many ran at once."""

    name = "Recording"
    params_type = NoParams

    def __init__(self) -> None:
        self.ran: list[ObjectRef] = []
        self.running = self.most = 0

    def parse(self, element: Element) -> NoParams:
        return NoParams()

    async def run(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0)
        self.running -= 1
        self.ran.append(target)
        return "recorded"


def spec(token: str) -> JobSpec:
    return JobSpec(
        client_request_token=token,
        priority=1,
        role_arn="arn:aws:iam::111111111111:role/batch",
        manifest=ManifestSpec(
            "S3BatchOperations_CSV_20180820", ("Bucket", "Key"), ManifestLocation("arn:aws:s3:::mf/m.csv", "e")
        ),
        operation=OperationSpec("BatchOpsNoOp", {}, "<BatchOpsNoOp />"),
        report=ReportSpec(enabled=False),
        threshold=FailureThreshold(min_tasks=1000, percent=50.0),
    )


async def active_job(store: Store, *chunks: list[bytes], token: str = "t") -> str:
    job_id, _ = await store.create_job("111111111111", spec(token), [])
    blobs, seq = [], 0
    for number, lines in enumerate(chunks):
        blobs.append(ChunkBlob(number, seq, len(lines), encode_lines(lines)))
        seq += len(lines)
    await store.add_chunks(job_id, blobs, seq)
    for status in (S.PREPARING, S.READY, S.ACTIVE):
        assert await store.transition(job_id, status)
    return job_id
