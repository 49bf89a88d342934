"""CreateJob's report-write check remembers a proven write for a while, and nothing else."""

from __future__ import annotations

import pytest

from batchops.reports import target
from batchops.reports.target import ProvenWrites

WHERE = ("111111111111", "arn:aws:iam::111111111111:role/r", "reports", "jobs/batchops-write-check")


def test_a_proven_write_is_known_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(target.time, "monotonic", lambda: now[0])
    proven = ProvenWrites(seconds=30.0)
    assert not proven.knows(WHERE)
    proven.add(WHERE)
    now[0] += 29.9
    assert proven.knows(WHERE)
    assert not proven.knows((*WHERE[:3], "other-prefix/batchops-write-check"))
    assert not proven.knows(("222222222222", *WHERE[1:]))
    now[0] += 0.2
    assert not proven.knows(WHERE)


def test_it_keeps_a_bounded_number_of_locations() -> None:
    proven = ProvenWrites()
    for n in range(target._PROVEN_KEPT + 10):
        proven.add(("a", "r", f"bucket-{n}", "k"))
    assert not proven.knows(("a", "r", "bucket-0", "k"))
    assert proven.knows(("a", "r", f"bucket-{target._PROVEN_KEPT + 9}", "k"))
