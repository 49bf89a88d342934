"""The one interface every manifest source implements, so Preparing can checkpoint any of them.

A source yields the job's rows in a deterministic order. Each row carries the position *after* it:
``entries``, how many source entries (CSV lines, inventory rows, listed objects) are consumed, and
for a source that can seek, a ``cursor``. The preparer stores the position of the last row of each
committed chunk and hands it back after a restart; the source then yields only the rows after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from batchops.domain.task import ObjectRef


@dataclass(frozen=True)
class Position:
    entries: int = 0  # source entries consumed from the start
    cursor: str | None = None  # where a seekable source resumes (opaque to everyone else)


@dataclass(frozen=True)
class SourceRow:
    """One task to be: its target, or why the entry cannot be one (``error``, with the ``raw`` entry)."""

    position: Position
    target: ObjectRef | None
    error: str | None = None
    raw: str = ""


@dataclass(frozen=True)
class PreparedChunk:
    """Up to ``chunk_size`` rows as one blob (``batchops.manifests.chunks``): ``count`` tasks, and the
    position after its last row. A listing's chunk also carries its objects (a generator saves them)."""

    data: bytes
    count: int
    position: Position
    targets: tuple[ObjectRef, ...] = ()


class ManifestSource(Protocol):
    def rows(self, start: Position) -> AsyncIterator[SourceRow]:
        """The rows after ``start`` (``Position()`` for all), in the same order on every call.

        Raises ``ManifestError`` when the manifest as a whole cannot be used.
        """
        ...


@runtime_checkable
class ChunkedSource(ManifestSource, Protocol):
    """A source that cuts itself into chunk blobs without parsing rows (a CSV manifest)."""

    def chunks(self, start: Position, chunk_size: int) -> AsyncIterator[PreparedChunk]:
        """The chunks after ``start``, each of ``chunk_size`` rows but the last. Raises ``ManifestError``."""
        ...
