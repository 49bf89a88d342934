"""A job's rate caps in each store: set from CreateJob, changed while it runs, final once it has ended."""

from __future__ import annotations

from dataclasses import replace

import pytest

from batchops.domain.job import RateCaps
from batchops.domain.status import JobStatus
from batchops.errors import RateFinal
from batchops.store import codec
from batchops.store.base import Store
from tests.support.runner import active_job, spec

ACCOUNT = "111111111111"


async def test_createjobs_caps_are_the_jobs_caps_and_a_change_is_read_back(any_store: Store) -> None:
    capped = replace(spec("capped"), rate=RateCaps(25.5, 8))
    job_id, _ = await any_store.create_job(ACCOUNT, capped, [])
    assert (await any_store.job_for_engine(job_id)).rate == RateCaps(25.5, 8)

    changed = await any_store.update_rate(ACCOUNT, job_id, RateCaps(100.0, None))
    assert changed.rate == RateCaps(100.0, None)
    assert (await any_store.job_for_engine(job_id)).rate == RateCaps(100.0, None)
    assert (await any_store.get_job(ACCOUNT, job_id)).spec.rate == RateCaps(25.5, 8)  # what CreateJob said


async def test_a_job_without_caps_has_none_and_its_spec_json_is_what_it_was(any_store: Store) -> None:
    job_id = await active_job(any_store, [b"b,k0"])
    job = await any_store.job_for_engine(job_id)
    assert job.rate == RateCaps() and job.rate.empty
    assert "rate" not in codec.spec_to_json(job.spec)  # replayed CreateJobs of older jobs keep their fingerprint


async def test_an_ended_jobs_caps_are_final(any_store: Store) -> None:
    job_id = await active_job(any_store, [b"b,k0"])
    for status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        assert await any_store.transition(job_id, status)
    with pytest.raises(RateFinal, match="can no longer change"):
        await any_store.update_rate(ACCOUNT, job_id, RateCaps(5.0, None))
    assert (await any_store.job_for_engine(job_id)).rate == RateCaps()
