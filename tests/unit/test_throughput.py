"""The throughput chart's data: progress samples kept per job on each store (thinned when full, purged with the
job), the supervisor's sampler that writes them from the jobs' counters, the rates drawn from them, and the
console's chart geometry."""

from __future__ import annotations

from itertools import pairwise

import pytest

from batchops.console.charts import HEIGHT, WIDTH, bar_chart, nice_ceiling, rate_chart
from batchops.domain.status import JobStatus
from batchops.domain.task import TaskOutcome, TaskStatus
from batchops.domain.throughput import MAX_SAMPLES, ProgressSample, RatePoint, current_rate, rates, to_thin
from batchops.engine.sampler import ProgressSampler
from batchops.service import AccountTotals, JobService
from batchops.store.base import Store
from tests.support.clock import T0, ManualClock
from tests.support.job_store import ACCOUNT, add_chunk, drive, good, new_job
from tests.support.runner import Counted
from tests.unit.test_job_service import SETTINGS

S = JobStatus


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


# --- rates and thinning (pure) ---------------------------------------------------------------


def test_rates_are_the_counts_gained_over_each_interval() -> None:
    samples = [ProgressSample(100, 0, 0), ProgressSample(102, 10, 0), ProgressSample(106, 30, 4)]

    assert rates(samples) == [RatePoint(102, 2, 5.0, 0.0), RatePoint(106, 4, 5.0, 1.0)]
    assert current_rate(samples) == RatePoint(106, 4, 5.0, 1.0)


def test_rates_skip_intervals_of_no_time_and_never_go_negative() -> None:
    samples = [ProgressSample(100, 5, 0), ProgressSample(100, 6, 0), ProgressSample(101, 4, 1)]

    assert rates(samples) == [RatePoint(101, 1, 0.0, 1.0)]
    assert rates(samples[:1]) == []
    assert current_rate(samples[:1]) is None


def test_an_interval_under_a_second_merges_into_the_one_before_it() -> None:
    # A job that ended 0.25 s after a sample: its last 7 tasks are not drawn as 28/s, but over the 2.25 s they ended in
    samples = [ProgressSample(100, 0, 0), ProgressSample(102, 40, 0), ProgressSample(104, 80, 0)]
    ended = ProgressSample(104.25, 87, 0)

    assert rates([*samples, ended]) == [RatePoint(102, 2, 20.0, 0.0), RatePoint(104.25, 2.25, 47 / 2.25, 0.0)]
    inside = [samples[0], ProgressSample(100.5, 10, 0), samples[1]]
    assert rates(inside) == [RatePoint(102, 2, 20.0, 0.0)]  # a sample too near the one before: dropped
    assert rates([samples[0], ProgressSample(100.25, 7, 0)]) == [RatePoint(100.25, 0.25, 28.0, 0.0)]  # nothing before
    assert current_rate([*samples, ended]) == RatePoint(104.25, 2.25, 47 / 2.25, 0.0)  # the account's "now" too


def test_thinning_drops_every_other_sample_keeping_the_first_and_latest() -> None:
    assert to_thin(MAX_SAMPLES - 1) == []
    dropped = to_thin(6, limit=6)
    assert dropped == [1, 3]
    kept = [i for i in range(6) if i not in dropped]
    assert kept[0] == 0 and kept[-1] == 5


# --- the stores --------------------------------------------------------------------------------


async def test_samples_are_kept_oldest_first_and_purged_with_their_job(store: Store, clock: ManualClock) -> None:
    job_id = await new_job(store)
    other = await new_job(store, token="other")
    await store.add_progress_samples([(job_id, ProgressSample(T0 + 2, 3, 1))])
    await store.add_progress_samples([(job_id, ProgressSample(T0 + 1, 1, 0))])
    await store.add_progress_samples([(other, ProgressSample(T0 + 1, 7, 7))])

    assert await store.progress_samples(job_id) == [ProgressSample(T0 + 1, 1, 0), ProgressSample(T0 + 2, 3, 1)]

    await drive(store, job_id, S.CANCELLING, S.CANCELLED)
    clock.advance(10)
    assert await store.purge_ended_before(T0 + 5) == 1
    assert await store.progress_samples(job_id) == []
    assert await store.progress_samples(other) == [ProgressSample(T0 + 1, 7, 7)]


async def test_a_full_series_is_halved_before_the_next_sample(store: Store) -> None:
    job_id = await new_job(store)
    for i in range(MAX_SAMPLES):
        await store.add_progress_samples([(job_id, ProgressSample(T0 + i, i, 0))])

    assert len(await store.progress_samples(job_id)) == MAX_SAMPLES
    await store.add_progress_samples([(job_id, ProgressSample(T0 + MAX_SAMPLES, MAX_SAMPLES, 0))])

    kept = await store.progress_samples(job_id)
    assert len(kept) == MAX_SAMPLES - len(to_thin(MAX_SAMPLES)) + 1 < MAX_SAMPLES * 0.6
    assert kept[0].at == T0  # the start stays
    assert [s.at for s in kept[-2:]] == [T0 + MAX_SAMPLES - 1, T0 + MAX_SAMPLES]  # the latest and the new one
    assert all(b.at > a.at for a, b in pairwise(kept))


async def test_task_totals_add_up_the_accounts_jobs(store: Store) -> None:
    job_id = await running_job(store)
    await store.record_outcomes(job_id, outcomes(ok=2, failed=1), [0])
    await new_job(store, token="other-account", account="999999999999")

    assert await store.task_totals(ACCOUNT) == (2, 1)
    assert await store.task_totals("999999999999") == (0, 0)


# --- the sampler -------------------------------------------------------------------------------


async def test_the_sampler_samples_running_jobs_and_once_more_when_they_stop(store: Store, clock: ManualClock) -> None:
    job_id = await running_job(store)
    waiting = await new_job(store, token="waiting")  # New: nothing ran, nothing sampled
    sampler = ProgressSampler(store, clock)

    await sampler.sample()
    clock.advance(2)
    await store.record_outcomes(job_id, outcomes(ok=2, failed=1), [0])
    await drive(store, job_id, S.COMPLETING)
    await sampler.sample()
    await drive(store, job_id, S.COMPLETE)
    clock.advance(2)
    await sampler.sample()  # its last sample: at its end, not now
    clock.advance(2)
    await sampler.sample()  # no more

    assert await store.progress_samples(job_id) == [
        ProgressSample(T0, 0, 0),
        ProgressSample(T0 + 2, 2, 1),
        ProgressSample(T0 + 2, 2, 1),
    ]
    assert await store.progress_samples(waiting) == []


async def test_every_running_jobs_sample_goes_in_one_write_and_only_a_full_series_is_thinned(
    store: Store, clock: ManualClock
) -> None:
    full, *others = [await new_job(store, token=f"t{i}") for i in range(4)]
    await store.add_progress_samples([(full, ProgressSample(T0 + i, i, 0)) for i in range(MAX_SAMPLES)])
    for job_id in (full, *others):
        await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    counted = Counted(store, "add_progress_samples")

    await ProgressSampler(counted, clock).sample()  # type: ignore[arg-type]

    assert counted.calls == 1
    assert len(await store.progress_samples(full)) == MAX_SAMPLES - len(to_thin(MAX_SAMPLES)) + 1
    for job_id in others:
        assert await store.progress_samples(job_id) == [ProgressSample(T0, 0, 0)]


# --- the service --------------------------------------------------------------------------------


async def test_an_ended_jobs_last_interval_reaches_its_end_before_the_next_sample(
    store: Store, clock: ManualClock
) -> None:
    service = JobService(store, lambda: None, SETTINGS)
    job_id = await running_job(store)
    await store.add_progress_samples([(job_id, ProgressSample(T0, 0, 0))])
    await store.add_progress_samples([(job_id, ProgressSample(T0 + 2, 1, 0))])
    clock.advance(3)
    await store.record_outcomes(job_id, outcomes(ok=2, failed=1), [0])
    await drive(store, job_id, S.COMPLETING, S.COMPLETE)  # ends at T0 + 3, not sampled yet

    job = await service.describe(ACCOUNT, job_id)
    assert await service.throughput(job) == [RatePoint(T0 + 2, 2, 0.5, 0.0), RatePoint(T0 + 3, 1, 1.0, 1.0)]


async def test_totals_add_up_the_accounts_jobs_and_its_active_jobs_latest_rates(store: Store) -> None:
    service = JobService(store, lambda: None, SETTINGS)
    first = await running_job(store)
    await store.record_outcomes(first, outcomes(ok=2, failed=1), [0])
    second = await running_job(store, token="second")
    for job_id, (ok, failed) in ((first, (2, 1)), (second, (8, 0))):
        await store.add_progress_samples([(job_id, ProgressSample(T0, 0, 0))])
        await store.add_progress_samples([(job_id, ProgressSample(T0 + 2, ok, failed))])

    assert await service.totals(ACCOUNT) == AccountTotals(2, 1, 2, 5.0, 0.5)
    assert await service.totals("999999999999") == AccountTotals(0, 0, 0, 0.0, 0.0)


# --- the console's charts ----------------------------------------------------------------------


def test_the_rate_chart_holds_each_rate_over_its_interval_on_a_round_scale() -> None:
    points = [RatePoint(T0 + 2, 2, 4.0, 0.0), RatePoint(T0 + 4, 2, 3.0, 1.0)]

    chart = rate_chart(points)

    assert chart is not None
    assert chart.top == 5.0
    assert chart.succeeded_line == f"0.0,{HEIGHT - 4 / 5 * HEIGHT:.1f} 300.0,32.0 300.0,64.0 {WIDTH:.1f},64.0"
    assert chart.failed_line.endswith(f"{WIDTH:.1f},{HEIGHT - HEIGHT / 5:.1f}")
    assert chart.y_labels == ["5/s", "2.5/s", "0/s"]
    assert "Latest: 3/s succeeded, 1/s failed" in chart.summary
    assert rate_chart([]) is None


def test_round_axis_tops() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 1.2, 4.9, 7, 10, 11, 250)] == [1, 0.5, 1, 2, 5, 10, 10, 20, 500]


def test_the_bar_chart_ranks_codes_and_folds_the_rest() -> None:
    codes = {f"Code{i}": i for i in range(1, 12)} | {"": 20}

    chart = bar_chart(codes)

    assert chart is not None
    assert [b.code for b in chart.bars][:3] == ["(no code)", "Code11", "Code10"]
    assert chart.bars[0].width == 100
    assert chart.bars[-1].code == "5 other codes" and chart.bars[-1].count == 1 + 2 + 3 + 4 + 5
    assert chart.summary.startswith("86 failed tasks by error code: (no code) 20; Code11 11;")
    assert bar_chart({}) is None


# --- helpers -------------------------------------------------------------------------------------


async def running_job(store: Store, token: str = "token-1") -> str:
    job_id = await new_job(store, token=token)
    await add_chunk(store, job_id, 0, [good(0), good(1), good(2)], lines_read=3)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    assert await store.claim_chunk(job_id, "w1", 30) is not None
    return job_id


def outcomes(ok: int, failed: int) -> list[TaskOutcome]:
    done = [TaskOutcome(i, TaskStatus.SUCCEEDED, 200, "", "", good(i).target) for i in range(ok)]
    return done + [
        TaskOutcome(ok + i, TaskStatus.FAILED, 403, "AccessDenied", "no", good(ok + i).target) for i in range(failed)
    ]
