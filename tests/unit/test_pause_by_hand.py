"""Pause and resume by hand: the one table of moves, the scheduler that never resumes a job paused by its owner (but
still resumes a pre-empted one), the store's guard against a stale resume, the service's requests, and what the
console offers. Run on each job store (the in-memory twin, SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from batchops.domain.status import (
    TRANSITIONS,
    JobStatus,
    PausedBy,
    allowed_requests,
    user_move,
)
from batchops.engine.scheduler import decide
from batchops.errors import JobStatusRefused
from batchops.service import JobService
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account
from tests.support.job_store import ACCOUNT, drive, new_job
from tests.unit.test_scheduler import job as sched_job

S = JobStatus
TO_ACTIVE = (S.PREPARING, S.READY, S.ACTIVE)
SETTINGS = Settings(accounts=(Account(ACCOUNT, "AKIDPAUSE", "secret-pause", any_role=True),))


# --- the table ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.ACTIVE, S.PAUSING), (S.READY, S.PAUSED), (S.SUSPENDED, S.PAUSED), (S.PAUSING, S.PAUSING), (S.PAUSED, S.PAUSED)],
)
def test_pause_is_accepted_from_running_and_waiting_statuses(current: JobStatus, target: JobStatus) -> None:
    assert user_move(S.PAUSED, current) is target
    assert target is current or target in TRANSITIONS[current]


@pytest.mark.parametrize("current", [S.NEW, S.PREPARING, S.COMPLETING, S.CANCELLING, S.FAILING, S.COMPLETE])
def test_pause_is_refused_where_nothing_runs_or_waits(current: JobStatus) -> None:
    assert user_move(S.PAUSED, current) is None


def test_resume_goes_to_ready_and_a_paused_job_never_goes_back_to_suspended() -> None:
    assert user_move(S.READY, S.PAUSED) is S.READY
    assert user_move(S.READY, S.PAUSING) is None  # it has not drained yet
    assert S.SUSPENDED not in TRANSITIONS[S.PAUSED]


def test_the_console_offers_pause_to_a_preempted_job_but_not_to_one_paused_by_hand() -> None:
    assert allowed_requests(S.ACTIVE) == ["Cancelled", "Paused"]
    assert allowed_requests(S.PAUSED, PausedBy.PREEMPTION) == ["Ready", "Cancelled", "Paused"]
    assert allowed_requests(S.PAUSED, PausedBy.USER) == ["Ready", "Cancelled"]
    assert allowed_requests(S.READY) == ["Cancelled", "Paused"]  # Ready on a Ready job would change nothing


# --- the scheduler --------------------------------------------------------------------------------


def test_the_scheduler_never_resumes_a_job_paused_by_hand_even_with_free_slots() -> None:
    paused = replace(sched_job("mine", S.PAUSED, 99), paused_by=PausedBy.USER)
    assert decide([paused], 4) == []


def test_the_scheduler_resumes_a_preempted_job_when_a_slot_is_free() -> None:
    preempted = replace(sched_job("bumped", S.PAUSED, 5), paused_by=PausedBy.PREEMPTION)
    moves = decide([preempted], 1)
    assert [(m.job_id, m.to) for m in moves] == [("bumped", S.ACTIVE)]


def test_a_job_pausing_by_hand_keeps_its_slot_until_drained_but_is_not_ranked() -> None:
    draining = replace(sched_job("draining", S.PAUSING, 99), paused_by=PausedBy.USER)
    waiting = sched_job("waiting", S.READY, 1, age=1)
    assert decide([draining, waiting], 1) == []  # the slot is still held
    assert [(m.job_id, m.to) for m in decide([replace(draining, status=S.PAUSED), waiting], 1)] == [
        ("waiting", S.ACTIVE)
    ]


def test_a_preempting_move_says_it_is_preemption() -> None:
    low = sched_job("low", S.ACTIVE, 1)
    high = sched_job("high", S.READY, 9, age=1)
    [move] = decide([low, high], 1)
    assert (move.job_id, move.to, move.paused_by) == ("low", S.PAUSING, PausedBy.PREEMPTION)


# --- the store ------------------------------------------------------------------------------------


async def test_a_stale_resume_of_a_job_paused_by_hand_is_refused_by_the_store(live_store: Store) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *TO_ACTIVE)
    assert await live_store.transition(job_id, S.PAUSING, "bumped", paused_by=PausedBy.PREEMPTION)
    assert await live_store.transition(job_id, S.PAUSED, "drained")
    assert (await live_store.job_for_engine(job_id)).paused_by is PausedBy.PREEMPTION  # kept through Paused
    assert await live_store.pin_pause(job_id, "hold it")
    assert not await live_store.transition(job_id, S.ACTIVE, "resumed: capacity is free")  # the scheduler's
    job = await live_store.job_for_engine(job_id)
    assert (job.status, job.paused_by, job.status_update_reason) == (S.PAUSED, PausedBy.USER, "hold it")
    assert await live_store.transition(job_id, S.READY, "resumed by the user")
    assert (await live_store.job_for_engine(job_id)).paused_by is None


async def test_pin_pause_refuses_a_job_that_is_not_pausing_or_paused(live_store: Store) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *TO_ACTIVE)
    assert not await live_store.pin_pause(job_id, "too early")
    assert (await live_store.job_for_engine(job_id)).paused_by is None


# --- the service ----------------------------------------------------------------------------------


@pytest.fixture
def service(live_store: Store) -> JobService:
    return JobService(live_store, lambda: None, SETTINGS)


async def test_pausing_an_active_job_drains_it_and_marks_the_owner(live_store: Store, service: JobService) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *TO_ACTIVE)
    job = await service.request_status(ACCOUNT, job_id, "Paused", None)
    assert (job.status, job.paused_by, job.status_update_reason) == (S.PAUSING, PausedBy.USER, "paused by the user")


@pytest.mark.parametrize("steps", [(S.PREPARING, S.READY), (S.PREPARING, S.SUSPENDED)])
async def test_a_waiting_job_pauses_at_once_and_resumes_to_ready(
    live_store: Store, service: JobService, steps: tuple[JobStatus, ...]
) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *steps)
    job = await service.request_status(ACCOUNT, job_id, "Paused", "maintenance window")
    assert (job.status, job.paused_by, job.status_update_reason) == (S.PAUSED, PausedBy.USER, "maintenance window")
    job = await service.request_status(ACCOUNT, job_id, "Ready", None)
    assert (job.status, job.paused_by, job.status_update_reason) == (S.READY, None, "resumed by the user")
    assert job.suspended_cause is None  # a resume after a pause while Suspended is the confirmation


async def test_pausing_a_preempted_job_keeps_it_paused(live_store: Store, service: JobService) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *TO_ACTIVE)
    assert await live_store.transition(job_id, S.PAUSING, "bumped", paused_by=PausedBy.PREEMPTION)
    job = await service.request_status(ACCOUNT, job_id, "Paused", None)
    assert (job.status, job.paused_by) == (S.PAUSING, PausedBy.USER)


async def test_pausing_a_job_that_is_preparing_or_ended_is_refused_with_the_statuses_that_allow_it(
    live_store: Store, service: JobService
) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, S.PREPARING)
    with pytest.raises(JobStatusRefused, match=f"job {job_id} is Preparing; requestedJobStatus=Paused is accepted"):
        await service.request_status(ACCOUNT, job_id, "Paused", None)
    assert (await live_store.job_for_engine(job_id)).status is S.PREPARING


async def test_resuming_a_job_still_pausing_is_refused(live_store: Store, service: JobService) -> None:
    job_id = await new_job(live_store)
    await drive(live_store, job_id, *TO_ACTIVE)
    await service.request_status(ACCOUNT, job_id, "Paused", None)
    with pytest.raises(JobStatusRefused, match="is Pausing; requestedJobStatus=Ready is accepted only"):
        await service.request_status(ACCOUNT, job_id, "Ready", None)
