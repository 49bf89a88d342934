"""The supervisor's decisions, on each job store (the in-memory twin and SQLite): what it moves each job to, and
what it asks its workforce.

The workforce is a stand-in that records what it is asked (run, drain) and says which jobs it is still busy
with; the S3 client is an in-memory stand-in (a manifest it serves, or a store that refuses every call). The
role-lost cases run the real in-process Worker, as the server does with ``workers = 0``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from batchops.domain.job import Job, ManifestLocation, ManifestSpec, ReportSpec
from batchops.domain.status import JobStatus
from batchops.engine.clients import StoreClients
from batchops.engine.supervisor import Supervisor
from batchops.server import build_engine
from batchops.settings import Settings
from batchops.store.base import Store
from tests.support.chunks import S3 as ManifestS3
from tests.support.engine import OneStore, RefusingS3, Workforce
from tests.support.job_store import drive, new_job

S = JobStatus
REPORT = ReportSpec(
    enabled=True, bucket="arn:aws:s3:::reports", format="Report_CSV_20180820", prefix="r", scope="AllTasks"
)


class Running:
    """A supervisor started on the store, with the stand-ins it was given."""

    def __init__(self, store: Store, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.workforce = Workforce()
        self._started: list[tuple[Supervisor, StoreClients]] = []

    async def start(self, s3: Any = None, **settings: Any) -> Supervisor:
        config = Settings(data_dir=self.tmp_path, **settings)
        clients = OneStore(config, s3 if s3 is not None else RefusingS3())
        supervisor = Supervisor(config, self.store, clients, self.workforce, tick_seconds=0.01)
        await supervisor.start()
        self._started.append((supervisor, clients))
        return supervisor

    async def stop(self) -> None:
        for supervisor, clients in self._started:
            await supervisor.stop()
            await clients.aclose()


@pytest.fixture
async def running(live_store: Store, tmp_path: Path) -> AsyncIterator[Running]:
    started = Running(live_store, tmp_path)
    try:
        yield started
    finally:
        await started.stop()


async def wait_until(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 5.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                done = check()
                if done if isinstance(done, bool) else await done:
                    return
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def wait_status(store: Store, job_id: str, status: JobStatus, timeout: float = 5.0) -> Job:
    async def reached() -> bool:
        return (await store.job_for_engine(job_id)).status is status

    try:
        await wait_until(reached, f"job {job_id} {status.value}", timeout)
    except AssertionError:
        moves = [(before, after, reason) for _at, before, after, reason in await store.status_history(job_id)]
        raise AssertionError(f"job {job_id} never reached {status.value}; its moves: {moves}") from None
    return await store.job_for_engine(job_id)


async def moves_of(store: Store, job_id: str) -> list[str]:
    return [after for _at, _before, after, _reason in await store.status_history(job_id)]


async def last_reason(store: Store, job_id: str) -> str | None:
    return (await store.status_history(job_id))[-1][3]


async def job_in(store: Store, token: str, *steps: JobStatus, **spec: Any) -> str:
    job_id = await new_job(store, token, **spec)
    await store.add_chunks(job_id, [], 0)
    await drive(store, job_id, *steps)
    return job_id


TO_ACTIVE = (S.PREPARING, S.READY, S.ACTIVE)


# --- preparing and starting ---------------------------------------------------------------------


async def test_a_new_job_is_prepared_made_ready_and_handed_to_the_workforce(running: Running) -> None:
    manifest = b"bkt,a\nbkt,b\nbkt,c\n"
    location = ManifestLocation("arn:aws:s3:::manifests/m.csv", hashlib.md5(manifest).hexdigest())
    job_id = await new_job(
        running.store, manifest=ManifestSpec("S3BatchOperations_CSV_20180820", ("Bucket", "Key"), location)
    )

    await running.start(ManifestS3(manifest, piece=4))

    job = await wait_status(running.store, job_id, S.ACTIVE)
    await wait_until(lambda: job_id in running.workforce.ran, "the workforce asked to run the job")
    assert job.progress.total == 3
    assert await moves_of(running.store, job_id) == ["New", "Preparing", "Ready", "Active"]


async def test_a_new_job_whose_role_is_gone_fails_while_preparing_with_the_reason(running: Running) -> None:
    job_id = await new_job(running.store)
    config = Settings(data_dir=running.tmp_path)  # declares no role: the job's RoleArn resolves to nothing
    engine = build_engine(config, running.store, tick_seconds=0.01)

    await engine.start()
    try:
        job = await wait_status(running.store, job_id, S.FAILED)
    finally:
        await engine.stop()

    assert await moves_of(running.store, job_id) == ["New", "Preparing", "Failing", "Failed"]
    assert [f.code for f in job.failure_reasons] == ["RoleNotDeclared"]
    assert "no longer declared" in job.failure_reasons[0].reason


async def test_an_active_job_whose_role_is_gone_goes_failing_and_ends_failed_with_the_reason(
    store: Store, tmp_path: Path
) -> None:
    job_id = await job_in(store, "lost", *TO_ACTIVE)
    engine = build_engine(Settings(data_dir=tmp_path), store, tick_seconds=0.01)  # the in-process Worker runs it

    await engine.start()
    try:
        job = await wait_status(store, job_id, S.FAILED)
    finally:
        await engine.stop()

    history = await store.status_history(job_id)
    failing = [reason for _at, _before, after, reason in history if after == "Failing"]
    assert failing and "no longer declared" in (failing[0] or "")
    assert [f.code for f in job.failure_reasons] == ["RoleNotDeclared"]


# --- draining -------------------------------------------------------------------------------------


async def test_a_pausing_job_with_nothing_running_becomes_paused(running: Running) -> None:
    holder = await job_in(running.store, "holder", *TO_ACTIVE, priority=50)
    pausing = await job_in(running.store, "pausing", *TO_ACTIVE, S.PAUSING, priority=5)

    await running.start(max_active_jobs=1)

    await wait_status(running.store, pausing, S.PAUSED)
    assert pausing in running.workforce.drained
    assert await last_reason(running.store, pausing) == "paused: a higher-priority job is running"
    assert (await running.store.job_for_engine(holder)).status is S.ACTIVE


async def test_a_pausing_job_stays_pausing_while_its_tasks_still_run(running: Running) -> None:
    await job_in(running.store, "holder", *TO_ACTIVE, priority=50)
    pausing = await job_in(running.store, "pausing", *TO_ACTIVE, S.PAUSING, priority=5)
    running.workforce.busy.add(pausing)

    await running.start(max_active_jobs=1)
    await wait_until(lambda: running.workforce.drained.count(pausing) >= 3, "three ticks asking for the drain")
    assert (await running.store.job_for_engine(pausing)).status is S.PAUSING

    running.workforce.busy.clear()
    await wait_status(running.store, pausing, S.PAUSED)


async def test_a_cancelling_job_is_cancelled_once_its_tasks_have_stopped(running: Running) -> None:
    job_id = await job_in(running.store, "cancel", *TO_ACTIVE, S.CANCELLING)
    running.workforce.busy.add(job_id)

    await running.start()
    await wait_until(lambda: running.workforce.drained.count(job_id) >= 3, "three ticks asking for the drain")
    assert (await running.store.job_for_engine(job_id)).status is S.CANCELLING

    running.workforce.busy.clear()
    job = await wait_status(running.store, job_id, S.CANCELLED)
    assert await last_reason(running.store, job_id) == "Job cancelled"
    assert not job.failure_reasons


# --- finishing ------------------------------------------------------------------------------------


async def test_a_completing_job_whose_report_cannot_be_written_ends_failed(running: Running) -> None:
    job_id = await job_in(running.store, "report", *TO_ACTIVE, S.COMPLETING, report=REPORT)

    await running.start(RefusingS3())

    job = await wait_status(running.store, job_id, S.FAILED)
    assert await moves_of(running.store, job_id) == [
        "New",
        "Preparing",
        "Ready",
        "Active",
        "Completing",
        "Failing",
        "Failed",
    ]
    assert [f.code for f in job.failure_reasons] == ["ReportWriteFailed"]
    assert "could not be written to arn:aws:s3:::reports: AccessDenied" in job.failure_reasons[0].reason


async def test_a_cancelling_job_whose_report_cannot_be_written_is_still_cancelled(running: Running) -> None:
    job_id = await job_in(running.store, "report", *TO_ACTIVE, S.CANCELLING, report=REPORT)

    await running.start(RefusingS3())

    job = await wait_status(running.store, job_id, S.CANCELLED)
    assert [f.code for f in job.failure_reasons] == ["ReportWriteFailed"]


# --- scheduling -----------------------------------------------------------------------------------


async def test_a_higher_priority_job_preempts_the_active_one(running: Running) -> None:
    low = await job_in(running.store, "low", *TO_ACTIVE, priority=1)
    high = await job_in(running.store, "high", S.PREPARING, S.READY, priority=9)

    await running.start(max_active_jobs=1)

    await wait_status(running.store, high, S.ACTIVE)
    assert (await running.store.job_for_engine(low)).status is S.PAUSED
    assert await moves_of(running.store, low) == ["New", "Preparing", "Ready", "Active", "Pausing", "Paused"]
    assert low in running.workforce.drained
    await wait_until(lambda: high in running.workforce.ran, "the workforce asked to run the high-priority job")


async def test_a_paused_job_resumes_when_the_job_that_preempted_it_ends(running: Running) -> None:
    paused = await job_in(running.store, "paused", *TO_ACTIVE, S.PAUSING, S.PAUSED, priority=1)
    high = await job_in(running.store, "high", *TO_ACTIVE, priority=9)

    await running.start(max_active_jobs=1)
    await wait_until(lambda: high in running.workforce.ran, "the high-priority job run")
    assert (await running.store.job_for_engine(paused)).status is S.PAUSED

    await running.store.transition(high, S.CANCELLING, "cancelled by the test")
    await wait_status(running.store, high, S.CANCELLED)
    await wait_status(running.store, paused, S.ACTIVE)
