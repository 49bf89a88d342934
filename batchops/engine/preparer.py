"""Preparing: stream the manifest source into chunk blobs, checkpointed so a restart resumes it.

The source (CSV, inventory or bucket listing: ``batchops.manifests.open_source``) is cut into chunks of
``chunk_size`` rows, each stored as one compressed blob (``batchops.manifests.chunks``): a CSV manifest's
lines are not parsed here, only split and counted; they are parsed when their chunk runs. One
transaction stores a group of chunks and the position after the last one. A generator job that saves
its manifest writes each chunk's data file before committing it (one chunk per transaction).
"""

from __future__ import annotations

from batchops.domain.job import Job
from batchops.manifests import open_source
from batchops.manifests.chunks import source_chunks
from batchops.manifests.objects import ManifestETagMismatch
from batchops.manifests.output import open_writer
from batchops.manifests.source import Position
from batchops.metrics import count_manifest_rows
from batchops.s3.types import S3Client
from batchops.store.base import ChunkBlob, Store

#: Chunks committed per transaction while reading a manifest that is not a listing being saved.
GROUP = 64


async def prepare(store: Store, s3: S3Client, job: Job, chunk_size: int) -> None:
    """Turn the job's manifest into chunks. Raises ManifestError when the manifest cannot be used; for an ETag
    that does not match, it says whether it never matched or the manifest changed after the job was created."""
    try:
        await _prepare(store, s3, job, chunk_size)
    except ManifestETagMismatch as exc:
        raise exc.told_apart(job.creation_time) from None


async def _prepare(store: Store, s3: S3Client, job: Job, chunk_size: int) -> None:
    source = open_source(job.spec, s3)
    # A dry run lists as usual but writes nothing to the store but its report: no manifest output.
    writer = None if job.spec.dry_run else open_writer(s3, job.id, job.spec.generator)
    group = 1 if writer is not None or job.spec.generator is not None else GROUP
    lines_done, chunk_no, seq = await store.prepare_checkpoint(job.id)
    position = Position(lines_done, await store.manifest_cursor(job.id))
    pending: list[ChunkBlob] = []
    async for chunk in source_chunks(source, position, chunk_size):
        if writer is not None:
            await writer.write_chunk(chunk_no, chunk.targets)
        pending.append(ChunkBlob(chunk_no, seq, chunk.count, chunk.data))
        chunk_no, seq, position = chunk_no + 1, seq + chunk.count, chunk.position
        if len(pending) >= group:
            await _store_chunks(store, job.id, pending, position)
            pending = []
    if writer is None:  # the last chunks and the manifest's end in one write
        await _store_chunks(store, job.id, pending, position, last=True)
        return
    await _store_chunks(store, job.id, pending, position)
    await store.set_generated_manifest(job.id, await writer.finish(chunk_no))
    await store.finish_manifest(job.id)


async def _store_chunks(
    store: Store, job_id: str, chunks: list[ChunkBlob], position: Position, last: bool = False
) -> None:
    """Commit a group of chunks and the position after them; their rows count as read once committed."""
    await store.add_chunks(job_id, chunks, position.entries, position.cursor, last=last)
    count_manifest_rows(sum(chunk.count for chunk in chunks))
