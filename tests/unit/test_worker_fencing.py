"""Fencing a ``batchops worker`` that was frozen (SIGSTOP, a stalled VM) while the cluster went on without it: on
waking it stops the run whose chunk lease another worker took, and the status moves a worker makes are
compare-and-set from Active in the store, so stale knowledge cannot move a job that has moved on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batchops.domain.job import FailureThreshold, OperationSpec
from batchops.domain.status import JobStatus
from batchops.engine.chunkworker import ACTIVE, ChunkWorker, _ProgressCheck
from batchops.manifests.chunks import encode_lines
from batchops.settings import Settings
from batchops.store.base import ChunkBlob, Store
from batchops.store.memory import MemoryStore
from tests.support.clock import T0, ManualClock
from tests.support.engine import OneStore
from tests.support.jobs import wait_for
from tests.support.runner import active_job, spec

S = JobStatus
#: Where a job may be when a worker that slept through its moves wakes up.
MOVED_ON = {
    S.CANCELLED: (S.CANCELLING, S.CANCELLED),
    S.COMPLETE: (S.COMPLETING, S.COMPLETE),
    S.COMPLETING: (S.COMPLETING,),
    S.PAUSED: (S.PAUSING, S.PAUSED),
}


class HangingS3:
    """Every call hangs until cancelled; remembers how many began and how many were cancelled."""

    def __init__(self) -> None:
        self.began = 0
        self.cancelled = 0

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def hang(**_: Any) -> Any:
            self.began += 1
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        return hang


@pytest.mark.parametrize("moved_to", list(MOVED_ON), ids=[s.value for s in MOVED_ON])
async def test_a_stale_worker_cannot_move_a_job_that_went_on(any_store: Store, moved_to: JobStatus) -> None:
    job_id = await active_job(any_store, [b"b,k0", b"b,k1"])
    stale = await any_store.job_for_engine(job_id)  # what the worker knew before it froze: Active
    for status in MOVED_ON[moved_to]:
        assert await any_store.transition(job_id, status)
    history = await any_store.status_history(job_id)

    strict = replace(stale, spec=replace(stale.spec, threshold=FailureThreshold(min_tasks=1, percent=1.0)))
    assert await _ProgressCheck(any_store).check(strict, 0, 2) is False  # past its threshold: Failing refused
    assert not await any_store.transition(job_id, S.COMPLETING, "every task has run", only_from=ACTIVE)

    assert (await any_store.job_for_engine(job_id)).status is moved_to
    assert await any_store.status_history(job_id) == history  # nothing recorded either


async def test_a_worker_that_lost_its_chunk_while_frozen_stops_its_run(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = MemoryStore(clock)
    job_id = await _tagging_job(store, tasks=5)
    s3 = HangingS3()
    settings = Settings(data_dir=tmp_path, chunk_lease_seconds=0.3, task_concurrency=2)
    clients = OneStore(settings, s3)
    worker = ChunkWorker(settings, store, clients)
    await worker.start()
    try:
        run = asyncio.create_task(worker.run_chunk(job_id, 0))
        await asyncio.to_thread(wait_for, lambda: s3.began == 2, 5, 0.01, "the chunk's first tasks to start")

        # Frozen past its lease (the store's clock jumps): the chunk's lease lapses and another worker takes it.
        clock.advance(10)
        assert await store.claim_chunk(job_id, "another-worker", 60, chunk_no=0) is not None

        started = time.monotonic()
        await asyncio.wait_for(run, timeout=5)  # its next renewal (every 0.1 s here) finds the lease gone
        assert time.monotonic() - started < 2
    finally:
        await worker.stop()
        await clients.aclose()

    assert s3.cancelled == 2 and s3.began == 2  # its S3 work stopped, and no further task began
    assert await store.renew_leases("another-worker", 60) == 1  # the new owner's lease is untouched
    job = await store.job_for_engine(job_id)
    assert job.status is S.ACTIVE
    assert job.progress.succeeded + job.progress.failed == 0  # cancelled tasks record nothing


async def _tagging_job(store: Store, tasks: int) -> str:
    """An Active job of one chunk whose tasks call the object store (S3DeleteObjectTagging)."""
    tagging = replace(spec("t"), operation=OperationSpec("S3DeleteObjectTagging", {}, "<S3DeleteObjectTagging />"))
    job_id, _ = await store.create_job("111111111111", tagging, [])
    lines = [f"bucket,k{i}".encode() for i in range(tasks)]
    await store.add_chunks(job_id, [ChunkBlob(0, 0, tasks, encode_lines(lines))], tasks)
    for status in (S.PREPARING, S.READY, S.ACTIVE):
        assert await store.transition(job_id, status)
    return job_id
