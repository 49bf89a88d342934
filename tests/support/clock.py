"""A manual clock for the stores (``clock=``): ``clock()`` is ``now``, which moves only when a test says so."""

from __future__ import annotations

#: The tests' epoch: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
