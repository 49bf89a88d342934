"""Jobs' progress samples in memory (``MemoryStore``'s part): the same rules as ``sql/progress.py``."""

from __future__ import annotations

from collections.abc import Sequence

from batchops.domain.throughput import MAX_SAMPLES, ProgressSample, to_thin
from batchops.store.memory_work import MemoryBase


class MemoryProgress(MemoryBase):
    #: Each job's samples, oldest first.
    samples: dict[str, list[ProgressSample]]

    async def add_progress_samples(self, samples: Sequence[tuple[str, ProgressSample]]) -> None:
        async with self._write():
            for job_id, sample in samples:
                kept = sorted(self.samples.get(job_id, []), key=lambda s: s.at)
                if len(kept) >= MAX_SAMPLES:
                    dropped = set(to_thin(len(kept)))
                    kept = [s for i, s in enumerate(kept) if i not in dropped]
                self.samples[job_id] = [*kept, sample]

    async def progress_samples(self, job_id: str) -> list[ProgressSample]:
        return sorted(self.samples.get(job_id, []), key=lambda s: s.at)

    def purge_samples(self, job_ids: set[str]) -> None:
        for job_id in job_ids:
            self.samples.pop(job_id, None)
