"""A job's throughput over time: the cumulative counts the server samples while the job runs, and the rates
(tasks/s) between samples that the console's chart draws.

Samples are kept per job in the store and thinned when a job has ``MAX_SAMPLES``: every other one is dropped (the
first and the latest stay), so a week-long job keeps a few hundred rows at a coarser grain, not a row per tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

#: Samples kept per job; reaching it halves them.
MAX_SAMPLES = 500
#: An interval shorter than this is merged into the one before it: a job that ends just after a sample would
#: otherwise chart its last few tasks over a fraction of a second, a spike that no cap or store made.
MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class ProgressSample:
    """The job's ended tasks at ``at`` (epoch seconds), cumulative."""

    at: float
    succeeded: int
    failed: int


@dataclass(frozen=True)
class RatePoint:
    """Tasks/s over the interval that ends at ``at``, and how long the interval was."""

    at: float
    seconds: float
    succeeded_per_second: float
    failed_per_second: float


def to_thin(count: int, limit: int = MAX_SAMPLES) -> list[int]:
    """Positions (oldest first, 0-based) of the samples to drop when a job has ``count``: every other one once the
    limit is reached, never the first nor the latest (the chart keeps its start and its now)."""
    if count < limit:
        return []
    return list(range(1, count - 1, 2))


def rates(samples: Sequence[ProgressSample]) -> list[RatePoint]:
    """The rate between each sample and the one before it (samples oldest first), over intervals of at least
    ``MIN_INTERVAL`` (``_spaced``). Intervals of no time (two samples in the same instant) are skipped; a count that
    went down (it never does) counts as no progress."""
    points: list[RatePoint] = []
    for before, after in pairwise(_spaced(samples)):
        seconds = after.at - before.at
        if seconds <= 0:
            continue
        succeeded = max(after.succeeded - before.succeeded, 0) / seconds
        failed = max(after.failed - before.failed, 0) / seconds
        points.append(RatePoint(after.at, seconds, succeeded, failed))
    return points


def _spaced(samples: Sequence[ProgressSample]) -> list[ProgressSample]:
    """The samples at least ``MIN_INTERVAL`` after the one kept before them (counts are cumulative, so a dropped
    sample merges two intervals). The latest always stays: too near the one kept before it, it takes its place."""
    kept: list[ProgressSample] = []
    for sample in samples:
        if not kept or sample.at - kept[-1].at >= MIN_INTERVAL:
            kept.append(sample)
    if samples and kept[-1] is not samples[-1]:
        if len(kept) > 1:
            kept[-1] = samples[-1]
        else:
            kept.append(samples[-1])
    return kept


def current_rate(samples: Sequence[ProgressSample]) -> RatePoint | None:
    """The latest interval's rate, as the chart draws it (None: fewer than two samples). Not the last two samples
    alone: a pair under ``MIN_INTERVAL`` apart would give the spike the chart merges away."""
    found = rates(samples)
    return found[-1] if found else None
