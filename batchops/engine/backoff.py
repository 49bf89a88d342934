"""Waits that grow while something keeps failing, so a fault is retried (and logged) a bounded number of times
a minute instead of in a tight loop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """Doubling waits from ``first`` up to ``most`` seconds; ``failures`` counts those since the last success."""

    first: float = 0.25
    most: float = 30.0
    failures: int = 0

    def failed(self) -> float:
        """Count one more failure; the wait before the next attempt."""
        self.failures += 1
        return min(self.first * 2.0 ** min(self.failures - 1, 32), self.most)

    def succeeded(self) -> None:
        self.failures = 0
