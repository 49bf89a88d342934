"""The circuit breaker's state machine, on an injected clock (no sleeping), and what counts as an outage."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.errors import ManifestError
from batchops.s3.breaker import (
    WATCH_ONLY,
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
    Ticket,
    answer_outage,
    outage_of,
    policy_for,
)

REFUSED = "ClientConnectorError: Cannot connect to host 127.0.0.1:9"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **policy: float) -> CircuitBreaker:
    return CircuitBreaker("http://store:8333", BreakerPolicy(**policy), clock=clock, wall_clock=lambda: 0.0)  # type: ignore[arg-type]


def fail(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        ticket = b.try_admit()
        assert isinstance(ticket, Ticket)
        b.record(ticket, REFUSED)


def client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObjectTagging")


def test_failures_open_it_and_then_nothing_goes_but_a_probe() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 2)
    assert not b.is_open and b.try_admit() == Ticket()
    fail(b)  # the third outage failure of three requests
    assert b.is_open and b.trips == 1
    assert b.try_admit() == pytest.approx(0.5)  # no request before the first probe time
    clock.now += 0.5
    probe = b.try_admit()
    assert probe == Ticket(probe=True, number=1)
    assert isinstance(b.try_admit(), float)  # one probe at a time


def test_a_failed_probe_waits_twice_as_long_up_to_the_cap() -> None:
    clock = Clock()
    b = breaker(clock, max_probe_interval=3.0)
    fail(b, 3)
    waits = []
    for _ in range(4):
        clock.now += b.try_admit()  # type: ignore[operator]
        probe = b.try_admit()
        assert isinstance(probe, Ticket) and probe.probe
        b.record(probe, "HTTP 503 SlowDown")
        waits.append(b.try_admit())
    assert waits == pytest.approx([1.0, 2.0, 3.0, 3.0])
    assert b.is_open and b.last_error == "HTTP 503 SlowDown"
    assert "probing every 3 s" in b.hold_reason() and "http://store:8333" in b.hold_reason()


def test_a_probe_that_gets_any_answer_closes_it() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 0.5
    probe = b.try_admit()
    assert isinstance(probe, Ticket)
    b.record(probe, None)  # even a 404 is an answer: the store is back
    assert not b.is_open and b.try_admit() == Ticket() and b.down_for() == 0.0


def test_answers_of_requests_sent_before_it_opened_do_not_close_it() -> None:
    clock = Clock()
    b = breaker(clock)
    early = b.try_admit()
    fail(b, 3)
    assert isinstance(early, Ticket)
    b.record(early, None)
    assert b.is_open


def test_scattered_failures_among_answers_keep_it_closed() -> None:
    clock = Clock()
    b = breaker(clock)
    for i in range(200):
        ticket = b.try_admit()
        assert isinstance(ticket, Ticket)
        b.record(ticket, REFUSED if i % 3 == 0 else None)  # a third of the requests fail
    assert not b.is_open and b.trips == 0


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    b = breaker(clock, window_seconds=30.0)
    fail(b, 2)
    clock.now += 31
    fail(b)
    assert not b.is_open


def test_down_for_counts_from_the_first_failure_since_the_last_answer() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b)
    clock.now += 10
    fail(b, 2)
    clock.now += 5
    assert b.is_open and b.down_for() == pytest.approx(15.0)


def test_an_abandoned_probe_lets_the_next_request_probe() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 0.5
    probe = b.try_admit()
    assert isinstance(probe, Ticket)
    b.abandon(probe)
    assert b.try_admit() == Ticket(probe=True, number=2)


def test_a_probe_that_never_reports_frees_the_way_after_its_timeout() -> None:
    clock = Clock()
    b = breaker(clock, probe_timeout=60.0)
    fail(b, 3)
    clock.now += 0.5
    assert b.try_admit() == Ticket(probe=True, number=1)
    clock.now += 59
    assert b.try_admit() == pytest.approx(1.0)
    clock.now += 1
    assert b.try_admit() == Ticket(probe=True, number=2)


def test_the_late_report_of_a_timed_out_probe_is_ignored() -> None:
    clock = Clock()
    b = breaker(clock, probe_timeout=60.0)
    fail(b, 3)
    clock.now += 0.5
    first = b.try_admit()
    clock.now += 60
    second = b.try_admit()
    assert first == Ticket(probe=True, number=1) and second == Ticket(probe=True, number=2)
    b.record(first, "HTTP 503 SlowDown")  # the first one's answer comes at last
    assert isinstance(b.try_admit(), float)  # the second probe is still the only one out
    b.record(second, None)
    assert not b.is_open


STEPS = st.lists(
    st.one_of(
        st.just(("send", 0)),
        st.tuples(st.sampled_from(["answer", "fail", "cancel"]), st.integers(0, 7)),
        st.tuples(st.just("tick"), st.integers(0, 4000)),  # milliseconds
    ),
    max_size=80,
)


def check_breaker_model(steps: list[tuple[str, int]]) -> None:
    """Requests sent, answered, failed or cancelled in any order and timing: never a second probe while one is
    out (unless the first outlived its timeout), a closed breaker admits everyone, it opens only on a failure
    and closes only on a probe's answer."""
    clock = Clock()
    b = breaker(clock)
    out: list[tuple[Ticket, float]] = []  # admitted, not yet reported: (ticket, when)
    for action, n in steps:
        if action == "tick":
            clock.now += n / 1000
        elif action == "send":
            decision = b.try_admit()
            assert isinstance(decision, Ticket) or b.is_open  # a closed breaker admits everyone
            if isinstance(decision, Ticket):
                if decision.probe:
                    live = [t for t, when in out if t.probe and clock.now - when < b.policy.probe_timeout]
                    assert not live, "a second probe while one is out"
                out.append((decision, clock.now))
        elif out:
            ticket, _ = out.pop(n % len(out))
            was_open, trips = b.is_open, b.trips
            if action == "cancel":
                b.abandon(ticket)
                assert (b.is_open, b.trips) == (was_open, trips)
            else:
                b.record(ticket, REFUSED if action == "fail" else None)
                if action == "answer":
                    assert b.trips == trips and (not b.is_open or (was_open and not ticket.probe))
                if ticket.probe:
                    assert b.is_open is (action == "fail")


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_the_breaker_holds_its_rules_under_any_interleaving(steps: list[tuple[str, int]]) -> None:
    check_breaker_model(steps)


@pytest.mark.soak
@settings(max_examples=20_000, deadline=None)
@given(STEPS)
def test_soak_the_breaker_holds_its_rules_under_any_interleaving(steps: list[tuple[str, int]]) -> None:
    check_breaker_model(steps)


async def test_held_requests_go_on_as_soon_as_a_probe_succeeds() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 0.5
    probe = b.try_admit()
    assert isinstance(probe, Ticket)
    held = [asyncio.ensure_future(b.admit()) for _ in range(5)]
    await asyncio.sleep(0)  # let them reach their wait
    assert not any(h.done() for h in held)
    b.record(probe, None)
    tickets = await asyncio.wait_for(asyncio.gather(*held), 1.0)
    assert tickets == [Ticket()] * 5


async def test_breakers_hold_a_task_only_if_one_opened_while_it_ran() -> None:
    breakers = Breakers()
    b = breakers.new("http://store:8333", BreakerPolicy())
    before = breakers.trips
    assert not await breakers.held_since(before)  # no outage: the task's failure is its own
    fail(b, 3)
    waiting = asyncio.ensure_future(breakers.held_since(before))
    await asyncio.sleep(0)
    assert not waiting.done()  # held until the store answers
    b._close()
    assert await asyncio.wait_for(waiting, 1.0)


@pytest.mark.parametrize(
    ("status", "code", "outage"),
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (502, "502", True),
        (504, "504", True),
        (429, "TooManyRequests", True),
        (400, "SlowDown", True),
        (404, "NoSuchKey", False),
        (403, "AccessDenied", False),
        (400, "MalformedXML", False),
        (501, "NotImplemented", False),
    ],
)
def test_which_answers_are_outages(status: int, code: str, outage: bool) -> None:
    assert (answer_outage(status, code) is not None) is outage
    assert (outage_of(client_error(status, code)) is not None) is outage


def test_which_exceptions_are_outages() -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None), OSError(111, "refused")
    )
    assert (
        outage_of(EndpointConnectionError(endpoint_url="http://h/b/k?x=1", error=refused))
        == f"ClientConnectorError: {refused}"
    )
    assert outage_of(ReadTimeoutError(endpoint_url="http://h")) is not None
    assert outage_of(aiohttp.ServerDisconnectedError()) is not None
    assert outage_of(ConnectionResetError()) is not None
    assert outage_of(ValueError("bad row")) is None
    assert outage_of(FileNotFoundError()) is None


def test_an_outage_wrapped_by_a_manifest_error_is_still_an_outage() -> None:
    def read() -> None:
        try:
            raise client_error(503, "SlowDown")
        except ClientError:
            raise ManifestError("ManifestNotReadable", "could not read the manifest") from None

    with pytest.raises(ManifestError) as caught:
        read()
    assert outage_of(caught.value) == "HTTP 503 SlowDown"
    assert outage_of(ManifestError("ManifestETagMismatch", "changed")) is None


def test_a_watch_only_breaker_never_opens() -> None:
    b = CircuitBreaker("http://store:8333", WATCH_ONLY)
    fail(b, 50)
    assert not b.is_open and b.try_admit() == Ticket() and b.last_error == REFUSED


def test_a_lone_call_opens_the_breaker_before_its_last_attempt_fails() -> None:
    for attempts in (1, 2, 3, 6):
        b = CircuitBreaker("http://store:8333", policy_for(attempts, 30.0))
        fail(b, min(attempts, 3))
        assert b.is_open, attempts
