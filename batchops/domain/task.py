"""A task is one manifest row (its object, ``ObjectRef``); its outcome is what the report says about it.

``TaskOutcome`` is how a task ended, as the runner records it; ``ReportRow`` is a recorded outcome read back
(the store yields them, the report writer and the console show them); ``ReportRun`` is many such rows, alike but
for their keys, read back in one piece (what a big job's report is made of).

Pending tasks are not objects of their own: they are rows of a chunk blob (``manifests/chunks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple


class TaskStatus(IntEnum):
    PENDING = 0
    SUCCEEDED = 1
    FAILED = 2


@dataclass(frozen=True)
class ObjectRef:
    """The object one task acts on, keys decoded from the manifest's URL-encoding."""

    bucket: str
    key: str
    version_id: str | None = None


class TaskOutcome(NamedTuple):
    """How one task ended, and the object it acted on (as the report names it).

    ``target`` is None for a manifest row that names no object; the report's Key is then ``raw``, the row.
    A named tuple: one is made per task, and that is several times cheaper than a frozen dataclass.
    """

    seq: int
    status: TaskStatus
    http_status: int
    error_code: str = ""
    message: str = ""
    target: ObjectRef | None = None
    raw: str = ""


@dataclass(frozen=True)
class ReportRow:
    """One task's line in the report, as recorded; ``key`` is the decoded object key."""

    bucket: str
    key: str
    version_id: str | None
    status: TaskStatus
    error_code: str
    http_status: int
    message: str


@dataclass(frozen=True)
class ReportRun:
    """``count`` consecutive report rows, in manifest order, alike but for their keys: ``like`` holds what every
    one of them holds (its own key aside), ``keys`` their decoded keys, joined by newlines (no key in a run holds
    one).

    A store reads a million rows like this far faster than as a million ``ReportRow`` objects: the keys arrive
    as one string, and the report writer builds the CSV around them."""

    like: ReportRow
    keys: str
    count: int

    def split(self, first: int) -> tuple[ReportRun, ReportRun]:
        """The first ``first`` rows (1 to count - 1), and the rest."""
        if not 0 < first < self.count:
            raise ValueError(f"cannot split a run of {self.count} rows after row {first}")
        end = -1
        for _ in range(first):
            end = self.keys.index("\n", end + 1)
        head, rest = self.keys[:end], self.keys[end + 1 :]
        return ReportRun(self.like, head, first), ReportRun(self.like, rest, self.count - first)
