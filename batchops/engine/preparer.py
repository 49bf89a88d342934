"""Preparing: stream the manifest source into chunks of tasks, checkpointed so a restart resumes it.

The source (CSV, inventory or bucket listing: ``batchops.manifests.open_source``) yields rows with
their position; every ``chunk_size`` rows one transaction stores the tasks and the position of the
last one. A generator job that saves its manifest writes each chunk's data file before committing it.
"""

from __future__ import annotations

from typing import Any

from batchops.domain.job import Job
from batchops.manifests import open_source
from batchops.manifests.output import ManifestWriter, open_writer
from batchops.manifests.source import Position
from batchops.store.sqlstore import PreparedRow, Store


async def prepare(store: Store, s3: Any, job: Job, chunk_size: int) -> None:
    """Turn the job's manifest into tasks. Raises ManifestError when the manifest cannot be used."""
    source = open_source(job.spec, s3)
    writer = open_writer(s3, job.id, job.spec.generator)
    lines_done, chunk_no, seq = await store.prepare_checkpoint(job.id)
    position = Position(lines_done, await store.manifest_cursor(job.id))
    batch: list[PreparedRow] = []
    async for row in source.rows(position):
        batch.append(PreparedRow(seq, row.target, row.error, row.raw))
        seq, position = seq + 1, row.position
        if len(batch) >= chunk_size:
            await _commit(store, writer, job.id, chunk_no, batch, position)
            chunk_no, batch = chunk_no + 1, []
    await _commit(store, writer, job.id, chunk_no, batch, position)
    if writer is not None:
        await store.set_generated_manifest(job.id, await writer.finish(chunk_no + (1 if batch else 0)))
    await store.finish_manifest(job.id)


async def _commit(
    store: Store, writer: ManifestWriter | None, job_id: str, chunk_no: int, batch: list[PreparedRow], at: Position
) -> None:
    if writer is not None:
        await writer.write_chunk(chunk_no, [row.target for row in batch if row.target is not None])
    await store.add_chunk(job_id, chunk_no, batch, at.entries, at.cursor)
