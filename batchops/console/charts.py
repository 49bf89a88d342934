"""The job page's charts, drawn on the server as inline SVG (no script library, no front-end build): tasks/s over
time (succeeded and failed) and failures by error code.

Only the plotted shapes are SVG, stretched to the card's width (``preserveAspectRatio="none"``, strokes that do not
scale); the numbers around them are HTML, so they stay readable on a phone. Each chart carries a one-sentence
summary for screen readers (``role="img"`` with ``aria-label``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from batchops.domain.throughput import RatePoint

#: The plot's own coordinates (the SVG's viewBox); the page stretches it to its width.
WIDTH = 600
HEIGHT = 160
#: Error codes given a bar of their own; the rest are added up in one last bar.
MOST_BARS = 8


@dataclass(frozen=True)
class RateChart:
    """A step line per outcome: each interval's rate held over the interval it was measured in."""

    succeeded_line: str  # SVG polyline points
    succeeded_area: str  # SVG polygon points (the line closed down to zero)
    failed_line: str
    top: float  # tasks/s at the top of the plot
    start: str  # the first interval's start, and the last one's end, as times of day (UTC)
    end: str
    summary: str

    @property
    def gridlines(self) -> list[float]:
        """The y of the quarter lines, in plot coordinates."""
        return [HEIGHT * i / 4 for i in range(1, 4)]

    @property
    def y_labels(self) -> list[str]:
        return [_rate_label(self.top * (4 - i) / 4) for i in range(5) if i % 2 == 0]


@dataclass(frozen=True)
class Bar:
    code: str
    count: int
    width: float  # of the plot's 100 units


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    summary: str


def rate_chart(points: Sequence[RatePoint]) -> RateChart | None:
    """The chart of ``points`` (oldest first); None before there is one interval to draw."""
    if not points:
        return None
    first = points[0].at - points[0].seconds
    span = max(points[-1].at - first, 1e-9)
    top = nice_ceiling(max(max(p.succeeded_per_second, p.failed_per_second) for p in points))

    def x(at: float) -> float:
        return (at - first) / span * WIDTH

    def y(value: float) -> float:
        return HEIGHT - value / top * HEIGHT

    def steps(value_of: str) -> list[tuple[float, float]]:
        corners: list[tuple[float, float]] = []
        for p in points:
            value = float(getattr(p, value_of))
            corners += [(x(p.at - p.seconds), y(value)), (x(p.at), y(value))]
        return corners

    succeeded = steps("succeeded_per_second")
    area = [(0.0, float(HEIGHT)), *succeeded, (float(WIDTH), float(HEIGHT))]
    return RateChart(
        succeeded_line=_points(succeeded),
        succeeded_area=_points(area),
        failed_line=_points(steps("failed_per_second")),
        top=top,
        start=_clock(first, span),
        end=_clock(points[-1].at, span),
        summary=_rate_summary(points),
    )


def bar_chart(codes: Mapping[str, int]) -> BarChart | None:
    """Failures by error code, most first (the codes past ``MOST_BARS`` in one "other codes" bar); None for none."""
    ranked = sorted(((code or "(no code)", n) for code, n in codes.items() if n > 0), key=lambda c: (-c[1], c[0]))
    if not ranked:
        return None
    if len(ranked) > MOST_BARS:
        rest = ranked[MOST_BARS - 1 :]
        ranked = [*ranked[: MOST_BARS - 1], (f"{len(rest)} other codes", sum(n for _, n in rest))]
    most = max(n for _, n in ranked)
    bars = [Bar(code, n, max(n / most * 100, 0.5)) for code, n in ranked]
    total = sum(n for _, n in ranked)
    listed = "; ".join(f"{b.code} {b.count}" for b in bars)
    return BarChart(bars, f"{total} failed {_tasks(total)} by error code: {listed}.")


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing yet): a round axis top."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return float(step * power)
    return float(10 * power)


def _rate_summary(points: Sequence[RatePoint]) -> str:
    latest = points[-1]
    peak = max(points, key=lambda p: p.succeeded_per_second + p.failed_per_second)
    return (
        f"Tasks per second from {_clock(points[0].at - points[0].seconds)} to {_clock(latest.at)} UTC, "
        f"{len(points)} intervals. Latest: {_rate_label(latest.succeeded_per_second)} succeeded, "
        f"{_rate_label(latest.failed_per_second)} failed. Peak: "
        f"{_rate_label(peak.succeeded_per_second)} succeeded, {_rate_label(peak.failed_per_second)} failed."
    )


def _rate_label(value: float) -> str:
    """Tasks/s as a person reads them: whole numbers when large, one decimal below 10."""
    if value >= 10 or value == int(value):
        return f"{value:.0f}/s"
    return f"{value:.1f}/s"


def _clock(at: float, span: float = 0.0) -> str:
    """A time of day (UTC); with the date once the chart spans a day or more."""
    return datetime.fromtimestamp(at, UTC).strftime("%m-%d %H:%M" if span >= 86400 else "%H:%M:%S")


def _points(corners: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)


def _tasks(n: int) -> str:
    return "task" if n == 1 else "tasks"
