"""The rate caps' limiters (batchops.s3.ratecap) on a manual clock: the pace, the burst, a change of cap, the gate."""

from __future__ import annotations

import asyncio

import pytest

from batchops.s3.ratecap import BURST_SECONDS, JOB_RATE, JobRates, RequestRate, StoreRates, TaskGate, take_tokens
from tests.support.clock import T0, ManualClock


def sent_in(rate: RequestRate, clock: ManualClock, seconds: float, step: float = 0.001) -> int:
    """Requests a sender that sends whenever a token is free gets out in ``seconds`` of the clock."""
    sent, end = 0, clock.now + seconds
    while clock.now < end:
        if rate.reserve() == 0:
            sent += 1
        else:
            rate._due -= 1 / rate.per_second  # type: ignore[operator]  # the token is not taken: give it back
            rate.taken -= 1
            clock.advance(step)
    return sent


def test_a_busy_sender_gets_the_cap_and_no_more() -> None:
    clock = ManualClock(T0)
    rate = RequestRate(50, clock)
    sent = sent_in(rate, clock, 20.0)
    # 50 a second over 20 s, plus at most the burst an idle rate keeps.
    assert 1000 <= sent <= 1000 + 50 * BURST_SECONDS + 1


def test_reserve_spaces_requests_one_interval_apart() -> None:
    clock = ManualClock(T0)
    rate = RequestRate(10, clock)
    waits = [rate.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=1e-6)  # a new rate has no burst saved up


def test_an_idle_rate_keeps_only_a_short_burst() -> None:
    clock = ManualClock(T0)
    rate = RequestRate(100, clock)
    clock.advance(60.0)  # a minute idle: no minute's worth of tokens
    free = 0
    while rate.reserve() == 0:
        free += 1
    assert free == pytest.approx(100 * BURST_SECONDS, abs=1)


def test_no_cap_never_waits() -> None:
    rate = RequestRate(None, ManualClock(T0))
    assert all(rate.reserve() == 0 for _ in range(10_000))


def test_a_new_cap_applies_at_once_to_what_comes_next() -> None:
    clock = ManualClock(T0)
    rate = RequestRate(1, clock)
    for _ in range(5):
        rate.reserve()  # four seconds of reservations at 1 a second
    rate.set(100)
    assert rate.reserve() == 0  # the old queue is void
    assert sent_in(rate, clock, 2.0) == pytest.approx(200, abs=100 * BURST_SECONDS + 1)
    rate.set(10)
    assert sent_in(rate, clock, 2.0) == pytest.approx(20, abs=2)


async def test_a_request_waiting_on_a_low_cap_goes_as_soon_as_the_cap_rises() -> None:
    rate = RequestRate(1000)
    for _ in range(200):
        rate.reserve()
    rate.set(0.01)  # the next token would be 100 s away
    rate.reserve()
    waiting = asyncio.ensure_future(rate.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    rate.set(None)
    await asyncio.wait_for(waiting, 1.0)


async def test_take_tokens_takes_one_of_the_tasks_job_and_one_of_the_store() -> None:
    job, store = RequestRate(1000), RequestRate(1000)

    async def task() -> None:
        JOB_RATE.set(job)
        await take_tokens(store)

    await asyncio.gather(*(asyncio.ensure_future(task()) for _ in range(3)))
    await take_tokens(store)  # outside a task of a job: the store's token only
    assert (job.taken, store.taken) == (3, 4)


async def test_the_gate_admits_its_size_and_follows_a_resize() -> None:
    gate = TaskGate(2)
    await gate.acquire()
    await gate.acquire()
    third = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not third.done() and gate.locked()
    gate.resize(3)
    await asyncio.wait_for(third, 1.0)
    assert gate.held == 3
    gate.resize(1)  # smaller: no one is cut off, but no one new comes in until below the size
    fourth = asyncio.ensure_future(gate.acquire())
    gate.release()
    gate.release()
    await asyncio.sleep(0)
    assert not fourth.done()
    gate.release()
    await asyncio.wait_for(fourth, 1.0)


async def test_a_cancelled_wait_at_the_gate_leaves_it_as_it_was() -> None:
    gate = TaskGate(1)
    await gate.acquire()
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    gate.release()
    assert gate.held == 0 and not gate.locked()


def test_a_jobs_caps_are_divided_among_the_processes_and_shared_by_its_runners_here() -> None:
    rates = JobRates(share=4)
    first = rates.hold("job", 100.0, 10)
    assert rates.hold("job", 100.0, 10) is first
    assert (first.requests.per_second, first.tasks.size) == (25.0, 2)
    rates.update("job", 40.0, None)
    assert (first.requests.per_second, first.tasks.size) == (10.0, None)
    rates.release("job")
    rates.release("job")
    assert rates.hold("job", 8.0, None) is not first  # the last runner gone: its next run starts afresh


def test_a_store_endpoints_rate_is_one_per_endpoint_and_none_without_a_cap() -> None:
    rates = StoreRates({"http://store:8333": 300.0}, share=3)
    rate = rates.for_endpoint("http://store:8333/")
    assert rate is not None and rate.per_second == 100.0
    assert rates.for_endpoint("http://store:8333") is rate
    assert rates.for_endpoint("http://other:8333") is None
    assert rates.for_endpoint(None) is None
