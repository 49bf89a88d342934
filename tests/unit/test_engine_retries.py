"""The engine tries failed work on a job again after waits that grow, never every tick: a job whose last write
fails on a full disk (its report written, its end not recordable) ends once the store writes again."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from batchops.domain.job import FailureReason
from batchops.domain.status import TERMINAL, JobStatus
from batchops.engine import jobtasks
from batchops.errors import StoreFull
from batchops.server import build_engine
from batchops.settings import Settings
from batchops.store.base import Store
from tests.support.runner import active_job


class FailingEnds:
    """The real store, but a move to a terminal status raises StoreFull ``failures`` times first; the time of
    each attempt is kept. What is tested is the engine's retry, not the store."""

    def __init__(self, store: Store, failures: int) -> None:
        self._store = store
        self._failures = failures
        self.attempts: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def transition(self, job_id: str, target: JobStatus, *args: Any, **kwargs: Any) -> bool:
        if target in TERMINAL:
            self.attempts.append(time.monotonic())
            if len(self.attempts) <= self._failures:
                raise StoreFull("database or disk is full")
        return await self._store.transition(job_id, target, *args, **kwargs)


async def test_a_failing_job_whose_end_cannot_be_written_is_retried_later_each_time_then_ends(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobtasks, "IDLE_BACKOFF_SECONDS", 0.05)
    job_id = await active_job(store, [b"bkt,a"])
    assert await store.transition(job_id, JobStatus.FAILING, "failing", FailureReason("Test", "made to fail"))
    failing = FailingEnds(store, failures=4)
    engine = build_engine(Settings(data_dir=tmp_path), failing, tick_seconds=0.01)  # type: ignore[arg-type]

    await engine.start()
    try:
        async with asyncio.timeout(10):
            while (await store.job_for_engine(job_id)).status is not JobStatus.FAILED:
                await asyncio.sleep(0.01)
    finally:
        await engine.stop()

    assert len(failing.attempts) == 5  # four refused, the fifth ended it
    job = await store.job_for_engine(job_id)
    assert [f.code for f in job.failure_reasons] == ["Test", "RoleNotDeclared"]  # each reason once
    gaps = [later - earlier for earlier, later in itertools.pairwise(failing.attempts)]
    assert all(gap >= wait * 0.9 for gap, wait in zip(gaps, [0.05, 0.1, 0.2, 0.4], strict=True)), gaps
