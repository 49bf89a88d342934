"""The ``batchops worker`` process: a procrastinate worker on the job store's PostgreSQL whose tasks run one chunk of
one job (``ChunkWorker.run_chunk``) and prepare or finish a job (``engine.jobqueue``). Any machine that reaches the
database and the object stores can run one; SIGTERM or Ctrl-C stops it after its running chunks (procrastinate's
graceful shutdown)."""

from __future__ import annotations

from batchops.engine.chunkworker import ChunkWorker
from batchops.engine.clients import StoreClients
from batchops.engine.jobqueue import serve_job_steps
from batchops.engine.queue import QUEUE, QUEUES, RUN_CHUNK, check_queue, heartbeat_seconds, queue_app
from batchops.errors import ConfigError
from batchops.settings import Settings
from batchops.store.sql import open_store
from batchops.store.sql.urls import POSTGRESQL, parse

NEEDS_POSTGRESQL = "batchops worker needs PostgreSQL; with SQLite use batchops server --workers N"


async def serve_chunks(settings: Settings, concurrency: int) -> None:
    """Run the chunks the queue delivers, ``concurrency`` at a time, until stopped."""
    url = parse(settings.database_url)
    if url.dialect != POSTGRESQL:
        raise ConfigError(NEEDS_POSTGRESQL)
    await check_queue(url)
    store = await open_store(url, migrate_schema=False)
    clients = StoreClients(settings)
    chunks = ChunkWorker(settings, store, clients)
    app = queue_app(url)

    @app.task(name=RUN_CHUNK, queue=QUEUE)
    async def run_chunk(job_id: str, chunk_no: int) -> None:
        await chunks.run_chunk(job_id, chunk_no)

    steps = serve_job_steps(app, settings, store, clients)
    try:
        async with app.open_async():
            await chunks.start()
            await steps.start()
            await app.run_worker_async(
                queues=list(QUEUES),
                concurrency=concurrency,
                delete_jobs="successful",
                update_heartbeat_interval=heartbeat_seconds(settings.worker_stall_seconds),
                stalled_worker_timeout=settings.worker_stall_seconds,
            )
    finally:
        await steps.stop()
        await chunks.stop()
        await clients.aclose()
        await store.close()
