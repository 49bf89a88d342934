"""LoginThrottle with a hand-moved clock: free failures, then growing delays, per identity and per address."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.console.throttle import FREE_PER_ADDRESS, FREE_PER_IDENTITY, MAX_KEYS, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_doubling_delays_and_a_success_clears_the_identity() -> None:
    clock = Clock()
    throttle = LoginThrottle(1.0, clock)
    keys = throttle.keys("123456789012", "10.0.0.1")
    for _ in range(FREE_PER_IDENTITY):
        assert throttle.wait_seconds(keys) == 0
        throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 1
    clock.now += 1
    throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 2
    clock.now += 2
    throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 4
    assert throttle.wait_seconds(throttle.keys("123456789012", "10.0.0.2")) == 4  # another address: same identity
    assert throttle.wait_seconds(throttle.keys("210987654321", "10.0.0.1")) == 0  # the address has failures left
    clock.now += 4
    throttle.succeeded(keys)
    assert throttle.wait_seconds(throttle.keys("123456789012", "10.0.0.2")) == 0


def test_many_identities_from_one_address_are_throttled_by_the_address() -> None:
    throttle = LoginThrottle(1.0, Clock())
    for n in range(FREE_PER_ADDRESS):
        throttle.failed(throttle.keys(f"guess-{n}", "10.0.0.9"))
    assert throttle.wait_seconds(throttle.keys("fresh-guess", "10.0.0.9")) == 1
    assert throttle.wait_seconds(throttle.keys("fresh-guess", "10.0.0.10")) == 0


@settings(max_examples=50, deadline=None)
@given(identities=st.lists(st.text(), min_size=1, max_size=50), address=st.text())
def test_any_identity_text_is_throttled_and_memory_stays_bounded(identities: list[str], address: str) -> None:
    throttle = LoginThrottle(1.0, Clock())
    for identity in identities:
        keys = throttle.keys(identity, address)
        for _ in range(FREE_PER_IDENTITY):
            throttle.failed(keys)
        assert throttle.wait_seconds(keys) >= 1
    assert len(throttle._failures) <= min(MAX_KEYS, len(identities) + 1)


def test_refusals_are_reported_in_batches() -> None:
    clock = Clock()
    throttle = LoginThrottle(1.0, clock)
    assert throttle.refused() == 1
    assert [throttle.refused() for _ in range(99)] == [0] * 99
    clock.now += 10
    assert throttle.refused() == 100
