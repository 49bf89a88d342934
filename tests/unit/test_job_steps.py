"""Preparing and finishing as procrastinate tasks (``engine/jobqueue.py``) on procrastinate's InMemoryConnector: the
supervisor defers each step once however often it ticks, a worker runs them with the same ``JobSteps`` as the
in-process path, a cancel while Preparing stops the prepare task before the job is finished, a lost task comes
back through the stalled-task retry, and a step delivered twice does its work once (``engine/jobwork.py``)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from procrastinate import App, testing

from batchops.domain.job import ManifestLocation, ManifestSpec, ReportSpec
from batchops.domain.status import JobStatus
from batchops.engine.dispatch import ProcrastinateWorkforce
from batchops.engine.jobqueue import QueuedJobWork, serve_job_steps
from batchops.engine.jobwork import JobSteps
from batchops.engine.queue import FINISH_JOB, JOBS_QUEUE, PREPARE_JOB, job_lock
from batchops.engine.supervisor import Supervisor
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.store.memory import MemoryStore
from tests.support.engine import OneStore, Workforce
from tests.support.job_store import drive, new_job

S = JobStatus
REPORT = ReportSpec(
    enabled=True, bucket="arn:aws:s3:::reports", format="Report_CSV_20180820", prefix="r", scope="AllTasks"
)


class Body:
    """A manifest body that hands the loop back between pieces, so two readers of it interleave."""

    def __init__(self, data: bytes, piece: int) -> None:
        self._data, self._piece = data, piece

    async def iter_chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), self._piece):
            await asyncio.sleep(0)
            yield self._data[start : start + self._piece]

    def close(self) -> None:
        pass


class ObjectStore:
    """Serves one CSV manifest and records the report's writes. With ``readers``, each GET waits until that many
    have been asked for (so that many preparers have read their checkpoint before any stores a chunk)."""

    def __init__(self, manifest: bytes = b"", readers: int = 1) -> None:
        self.manifest = manifest
        self.puts: list[str] = []
        self._readers = asyncio.Barrier(readers)

    async def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        async with asyncio.timeout(10):  # a preparer that never reads fails the test here, it does not hang
            await self._readers.wait()
        return {"Body": Body(self.manifest, 97), "ETag": f'"{hashlib.md5(self.manifest).hexdigest()}"'}

    async def put_object(self, Key: str, **_: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        self.puts.append(Key)
        return {"ETag": '"e"'}


def manifest_of(rows: int) -> bytes:
    return "".join(f"bkt,k{i:05d}\n" for i in range(rows)).encode()


def manifest_spec(data: bytes) -> ManifestSpec:
    location = ManifestLocation("arn:aws:s3:::manifests/m.csv", hashlib.md5(data).hexdigest())
    return ManifestSpec("S3BatchOperations_CSV_20180820", ("Bucket", "Key"), location)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    queue = App(connector=testing.InMemoryConnector())
    async with queue.open_async():
        yield queue


def queued(app: App, *statuses: str) -> list[dict[str, Any]]:
    connector = app.connector
    assert isinstance(connector, testing.InMemoryConnector)
    return [job for job in connector.jobs.values() if not statuses or job["status"] in statuses]


class Cluster:
    """A supervisor deferring the steps (``QueuedJobWork``) and a ``batchops worker``'s side of the same queue."""

    def __init__(self, app: App, store: Store, tmp_path: Path, s3: ObjectStore) -> None:
        self.app, self.store = app, store
        self.settings = Settings(data_dir=tmp_path, chunk_size=10)
        self.clients = OneStore(self.settings, s3)
        work = QueuedJobWork(app, self.settings.chunk_size)
        self.supervisor = Supervisor(self.settings, store, self.clients, Workforce(), tick_seconds=60, job_work=work)
        # The worker's own chunk size differs: the supervising server's travels with the prepare task.
        worker_settings = Settings(data_dir=tmp_path, chunk_size=1000)
        self.steps = serve_job_steps(app, worker_settings, store, self.clients)

    async def work_off(self) -> None:
        """The worker runs what is queued now, then stops."""
        await self.app.run_worker_async(queues=[JOBS_QUEUE], concurrency=2, wait=False)

    async def close(self) -> None:
        await self.clients.aclose()


@pytest.fixture
async def cluster(app: App, tmp_path: Path) -> AsyncIterator[Cluster]:
    started = Cluster(app, MemoryStore(), tmp_path, ObjectStore(manifest_of(25)))
    try:
        yield started
    finally:
        await started.close()


async def test_a_new_job_is_deferred_once_and_prepared_by_the_worker(cluster: Cluster, app: App) -> None:
    job_id = await new_job(cluster.store, manifest=manifest_spec(manifest_of(25)), priority=7)

    for _ in range(3):  # every tick may ask again: one task, queued once
        await cluster.supervisor.tick()

    [task] = queued(app)
    assert (task["task_name"], task["queue_name"], task["priority"]) == (PREPARE_JOB, JOBS_QUEUE, 7)
    assert task["lock"] == job_lock(job_id) and task["args"] == {"job_id": job_id, "chunk_size": 10}
    assert (await cluster.store.job_for_engine(job_id)).status is S.PREPARING  # the server read nothing

    await cluster.work_off()

    job = await cluster.store.job_for_engine(job_id)
    assert (job.status, job.progress.total) == (S.READY, 25)
    assert await cluster.store.prepare_checkpoint(job_id) == (25, 3, 25)
    assert [t["status"] for t in queued(app)] == ["succeeded"]


async def test_an_ending_job_is_finished_by_the_worker_with_its_report(
    app: App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = ObjectStore()
    cluster = Cluster(app, MemoryStore(), tmp_path, s3)
    job_id = await new_job(cluster.store, report=REPORT)
    await drive(cluster.store, job_id, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING)

    await cluster.supervisor.tick()
    await cluster.supervisor.tick()
    assert [t["task_name"] for t in queued(app, "todo")] == [FINISH_JOB]
    with caplog.at_level(logging.INFO, logger="batchops.engine.finisher"):
        await cluster.work_off()
    await cluster.close()

    assert (await cluster.store.job_for_engine(job_id)).status is S.COMPLETE
    assert any(key.endswith("manifest.json") for key in s3.puts)
    assert f"report for job {job_id} written" in caplog.text


async def test_cancel_while_preparing_cancels_the_queued_prepare_then_finishes(cluster: Cluster, app: App) -> None:
    job_id = await new_job(cluster.store, manifest=manifest_spec(manifest_of(25)))
    await cluster.supervisor.tick()
    assert await cluster.store.transition(job_id, S.CANCELLING, "cancelled by the user")

    await cluster.supervisor.tick()  # the prepare task is cancelled (it was only queued): the job is not busy
    await cluster.supervisor.tick()  # ... so its finishing is deferred

    assert [(t["task_name"], t["status"]) for t in queued(app)] == [(PREPARE_JOB, "cancelled"), (FINISH_JOB, "todo")]
    await cluster.work_off()
    job = await cluster.store.job_for_engine(job_id)
    assert (job.status, job.progress.total) == (S.CANCELLED, 0)  # no manifest read after the cancel


async def test_cancel_while_a_worker_prepares_aborts_it_and_waits_for_it(cluster: Cluster, app: App) -> None:
    job_id = await new_job(cluster.store, manifest=manifest_spec(manifest_of(25)))
    await cluster.supervisor.tick()
    [task] = queued(app)
    task["status"] = "doing"  # a worker runs it now
    await cluster.store.transition(job_id, S.CANCELLING, "cancelled by the user")

    for _ in range(3):
        await cluster.supervisor.tick()

    assert task["abort_requested"] is True
    assert len(queued(app)) == 1  # not finished while the prepare still runs (its abort is under way)
    task["status"] = "aborted"  # the worker stopped it
    await cluster.supervisor.tick()
    assert [t["task_name"] for t in queued(app, "todo")] == [FINISH_JOB]


async def test_a_finish_task_of_a_dead_worker_comes_back_and_the_job_ends(cluster: Cluster, app: App) -> None:
    job_id = await new_job(cluster.store)
    await drive(cluster.store, job_id, S.PREPARING, S.READY, S.ACTIVE, S.CANCELLING)
    await cluster.supervisor.tick()
    [task] = queued(app)
    task.update(status="doing", worker_id=999)  # its worker died: no heartbeat
    await cluster.supervisor.tick()
    assert len(queued(app)) == 1  # busy while it is "doing": never a second one

    await ProcrastinateWorkforce(cluster.store, app, window=4, per_job=4, stall_seconds=30).retry_stalled()
    await cluster.work_off()

    assert task["status"] == "succeeded"
    assert (await cluster.store.job_for_engine(job_id)).status is S.CANCELLED


async def test_a_finish_delivered_twice_writes_the_report_once(app: App, tmp_path: Path) -> None:
    s3 = ObjectStore()
    cluster = Cluster(app, MemoryStore(), tmp_path, s3)
    job_id = await new_job(cluster.store, report=REPORT)
    await drive(cluster.store, job_id, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING)
    for _ in range(2):  # e.g. a stalled one put back beside a live one: the job's lock runs them one at a time
        await app.configure_task(FINISH_JOB, queue=JOBS_QUEUE, lock=job_lock(job_id)).defer_async(job_id=job_id)

    await cluster.work_off()
    await cluster.close()

    assert [t["status"] for t in queued(app)] == ["succeeded", "succeeded"]
    assert sum(key.endswith("manifest.json") for key in s3.puts) == 1
    moves = [after for _at, _before, after, _reason in await cluster.store.status_history(job_id)]
    assert moves.count("Complete") == 1


async def test_two_preparers_of_one_job_store_each_chunk_once(
    live_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = manifest_of(2000)  # 200 chunks of 10: four transactions of 64 chunks
    settings = Settings(data_dir=tmp_path, chunk_size=10)
    clients = OneStore(settings, ObjectStore(data, readers=2))  # both start from the same checkpoint
    job_id = await new_job(live_store, manifest=manifest_spec(data))
    await drive(live_store, job_id, S.PREPARING)
    first, second = JobSteps(settings, live_store, clients), JobSteps(settings, live_store, clients)

    with caplog.at_level(logging.INFO, logger="batchops.engine.jobwork"):
        await asyncio.gather(first.prepare(job_id), second.prepare(job_id))
    await clients.aclose()

    job = await live_store.job_for_engine(job_id)
    assert (job.status, job.progress.total) == (S.READY, 2000)
    assert await live_store.prepare_checkpoint(job_id) == (2000, 200, 2000)
    moves = [after for _at, _before, after, _reason in await live_store.status_history(job_id)]
    assert moves.count("Ready") == 1
    assert "another preparer is reading its manifest" in caplog.text  # the fence was reached, not dodged


async def test_a_step_for_a_job_that_moved_on_does_nothing(cluster: Cluster) -> None:
    job_id = await new_job(cluster.store)
    await drive(cluster.store, job_id, S.PREPARING, S.READY)

    await cluster.steps.prepare(job_id)  # a late delivery
    await cluster.steps.finish(job_id)

    job = await cluster.store.job_for_engine(job_id)
    assert (job.status, job.progress.total) == (S.READY, 0)
