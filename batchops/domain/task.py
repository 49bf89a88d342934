"""A task is one manifest row (its object, ``ObjectRef``); its outcome is what the report says about it.

``TaskOutcome`` is how a task ended, as the runner records it; ``ReportRow`` is a recorded outcome read back
(the store yields them, the report writer and the console show them).

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
