"""Console sign-in throttling: growing delays after failed sign-ins, per identity and per client address.

An identity (access key id or account id, as typed) gets ``FREE_PER_IDENTITY`` failures, an address
``FREE_PER_ADDRESS`` (several people may share one); past that, each further attempt must wait
``base_delay * 2^(failures beyond the free ones)``, up to ``MAX_DELAY_SECONDS``. An attempt that comes
too early is refused without its credentials being checked, so guessing gains nothing from speed. The
memory is bounded: the least recently failed keys are forgotten first, and a key is forgotten once its
delay has long passed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FREE_PER_IDENTITY = 5
FREE_PER_ADDRESS = 20
MAX_DELAY_SECONDS = 15 * 60
MAX_KEYS = 10_000
#: Refusals are logged at most this often (with how many there were), so a flood of guesses is no log flood.
REPORT_EVERY_SECONDS = 10.0


@dataclass
class Failures:
    count: int
    last: float
    free: int


class LoginThrottle:
    def __init__(self, base_delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_delay = base_delay
        self.clock = clock
        self._failures: OrderedDict[str, Failures] = OrderedDict()
        self._refused_unreported = 0
        self._reported_at = float("-inf")

    @staticmethod
    def keys(identity: str, address: str) -> list[tuple[str, int]]:
        """The throttle keys of one attempt, each with its free failures."""
        return [(f"identity:{identity}", FREE_PER_IDENTITY), (f"address:{address}", FREE_PER_ADDRESS)]

    def wait_seconds(self, keys: Iterable[tuple[str, int]]) -> int:
        """Whole seconds before these keys may try again (0: now)."""
        now = self.clock()
        waits = [self._next_allowed(key) - now for key, _ in keys]
        return max(0, math.ceil(max(waits, default=0.0)))

    def failed(self, keys: Iterable[tuple[str, int]]) -> None:
        now = self.clock()
        for key, free in keys:
            entry = self._failures.pop(key, None) or Failures(0, now, free)
            if now - entry.last > MAX_DELAY_SECONDS * 2:
                entry.count = 0  # long quiet: start over
            entry.count += 1
            entry.last = now
            self._failures[key] = entry  # most recent last
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def refused(self) -> int:
        """Count a refused attempt; how many to log now (0: not yet, the next report will include it)."""
        self._refused_unreported += 1
        now = self.clock()
        if now - self._reported_at < REPORT_EVERY_SECONDS:
            return 0
        count, self._refused_unreported, self._reported_at = self._refused_unreported, 0, now
        return count

    def succeeded(self, keys: Iterable[tuple[str, int]]) -> None:
        """A right answer clears the identity (not the address: one account's success says nothing of others)."""
        for key, _ in keys:
            if key.startswith("identity:"):
                self._failures.pop(key, None)

    def _next_allowed(self, key: str) -> float:
        entry = self._failures.get(key)
        if entry is None or entry.count < entry.free:
            return 0.0
        delay: float = min(MAX_DELAY_SECONDS, self.base_delay * 2.0 ** min(entry.count - entry.free, 30))
        return entry.last + delay
