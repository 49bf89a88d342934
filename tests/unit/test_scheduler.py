"""Scheduler decisions: the highest priorities run, ties go to the oldest, pre-emption and resume."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from batchops.domain.job import (
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
from batchops.engine.scheduler import Lanes, decide

S = JobStatus
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(job_id: str, status: JobStatus, priority: int, age: int = 0) -> Job:
    spec = JobSpec(
        client_request_token=job_id,
        priority=priority,
        role_arn="arn:aws:iam::123456789012:role/r",
        manifest=ManifestSpec("S3BatchOperations_CSV_20180820", ("Bucket", "Key"), ManifestLocation("arn", "e")),
        operation=OperationSpec("S3DeleteObjectTagging", {}, "<S3DeleteObjectTagging />"),
        report=ReportSpec(enabled=False),
        threshold=FailureThreshold(),
    )
    return Job(job_id, "123456789012", spec, status, priority, T0 + timedelta(seconds=age), Progress(0, 0, 0, 0))


def moves(*jobs: Job, slots: int = 1) -> set[tuple[str, JobStatus]]:
    return {(m.job_id, m.to) for m in decide(list(jobs), slots)}


def test_ready_job_starts_when_a_slot_is_free() -> None:
    assert moves(job("a", S.READY, 1)) == {("a", S.ACTIVE)}


def test_highest_priority_first_ties_to_oldest() -> None:
    assert moves(job("a", S.READY, 1), job("b", S.READY, 5)) == {("b", S.ACTIVE)}
    assert moves(job("new", S.READY, 5, age=9), job("old", S.READY, 5, age=1)) == {("old", S.ACTIVE)}


def test_lower_priority_waits_in_ready_while_higher_runs() -> None:
    assert moves(job("hi", S.ACTIVE, 9), job("lo", S.READY, 1)) == set()


def test_higher_ready_job_pauses_the_lowest_active_one() -> None:
    assert moves(job("lo", S.ACTIVE, 1), job("hi", S.READY, 9)) == {("lo", S.PAUSING)}
    two = moves(job("a", S.ACTIVE, 5), job("b", S.ACTIVE, 1), job("hi", S.READY, 9), slots=2)
    assert two == {("b", S.PAUSING)}


def test_pausing_job_holds_its_slot_until_paused() -> None:
    assert moves(job("lo", S.PAUSING, 1), job("hi", S.READY, 9)) == set()
    assert moves(job("lo", S.PAUSED, 1), job("hi", S.READY, 9)) == {("hi", S.ACTIVE)}


def test_paused_job_resumes_when_the_higher_one_is_gone() -> None:
    assert moves(job("lo", S.PAUSED, 1)) == {("lo", S.ACTIVE)}


def test_paused_job_outranks_a_newer_ready_job_of_lower_priority() -> None:
    assert moves(job("paused", S.PAUSED, 5), job("ready", S.READY, 3)) == {("paused", S.ACTIVE)}


def test_several_slots_fill_in_rank_order() -> None:
    result = moves(job("a", S.READY, 1), job("b", S.READY, 2), job("c", S.READY, 3), slots=2)
    assert result == {("c", S.ACTIVE), ("b", S.ACTIVE)}


def test_non_runnable_jobs_are_ignored() -> None:
    assert moves(job("s", S.SUSPENDED, 9), job("n", S.NEW, 9), job("r", S.READY, 1)) == {("r", S.ACTIVE)}


# --- the small jobs' slots --------------------------------------------------------------------------

LANES = Lanes(max_active=1, small_tasks=1000, small_slots=2)


def sized(job_id: str, status: JobStatus, priority: int, tasks: int, age: int = 0) -> Job:
    return replace(job(job_id, status, priority, age), progress=Progress(tasks, 0, 0, 0))


def lane_moves(*jobs: Job) -> set[tuple[str, JobStatus]]:
    return {(m.job_id, m.to) for m in decide(list(jobs), LANES)}


def test_small_jobs_of_the_same_priority_run_beside_a_big_one_up_to_their_slots() -> None:
    big = sized("big", S.ACTIVE, 5, 1_000_000)
    small = [sized(f"s{n}", S.READY, 5, 3, age=n) for n in range(1, 4)]
    assert lane_moves(big, *small) == {("s1", S.ACTIVE), ("s2", S.ACTIVE)}
    assert lane_moves(big, replace(small[0], status=S.ACTIVE), small[1], small[2]) == {("s2", S.ACTIVE)}


def test_a_job_one_task_over_the_bound_is_big_and_waits() -> None:
    assert lane_moves(sized("big", S.ACTIVE, 5, 10**6), sized("b2", S.READY, 5, 1001, age=1)) == set()
    assert lane_moves(sized("big", S.ACTIVE, 5, 10**6), sized("s", S.READY, 5, 1000, age=1)) == {("s", S.ACTIVE)}


def test_a_lower_priority_small_job_still_waits_in_ready_while_a_higher_one_runs() -> None:
    assert lane_moves(sized("hi", S.ACTIVE, 9, 10**6), sized("lo", S.READY, 1, 3)) == set()


def test_a_higher_priority_job_pauses_small_jobs_below_it_too() -> None:
    running = [sized("big", S.ACTIVE, 5, 10**6), sized("s1", S.ACTIVE, 5, 3, age=1)]
    assert lane_moves(*running, sized("hi", S.READY, 9, 10**6, age=2)) == {("big", S.PAUSING), ("s1", S.PAUSING)}


def test_a_higher_priority_small_job_takes_the_main_slot_by_pre_empting() -> None:
    assert lane_moves(sized("lo", S.ACTIVE, 1, 10**6), sized("hi", S.READY, 9, 3)) == {("lo", S.PAUSING)}


def test_no_small_slots_is_the_one_lane_rule() -> None:
    one_lane = Lanes(max_active=1, small_tasks=1000, small_slots=0)
    jobs = [sized("big", S.ACTIVE, 5, 10**6), sized("s", S.READY, 5, 3, age=1)]
    assert decide(jobs, one_lane) == []
