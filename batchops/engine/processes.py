"""Worker processes: with ``workers = N`` the server starts N of them to run the tasks of Active jobs.

Each worker is a Python process of its own (multiprocessing, "spawn") with its own event loop, S3
clients and connections to the same SQLite store. It runs a ``Worker`` that looks at the store every
0.25 s: it runs the Active jobs (claiming their chunks under leases in its name) and stops the runners of
jobs no longer Active (paused, cancelled, failing), which flushes and gives the leases back.

The server's ``WorkerPool`` is the supervisor's workforce: it starts them, restarts one that dies (giving its
leases back at once, so another worker re-runs the dead one's unfinished tasks) and stops them with the server.
A job is drained once no worker holds a live lease on its chunks. A worker whose server is gone (kill -9) stops
by itself within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time
import uuid
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess

from batchops.domain.job import Job
from batchops.engine.clients import StoreClients
from batchops.engine.loop import cancel_all, start_loop
from batchops.engine.worker import POLL_SECONDS, Worker
from batchops.logs import configure, worker_process_name
from batchops.metrics import process_ended
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.store.sql import open_store

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
#: A worker that dies sooner than this after starting is restarted after a growing pause (up to 30 s).
_QUICK_DEATH_SECONDS = 10.0
_STOP_SECONDS = 10.0
#: How often the pool looks for workers that died.
_WATCH_SECONDS = 1.0
#: Workers run at a lower CPU priority than the server: when the cores are busy with tasks, the API (and
#: the supervisor) still get the CPU at once, so DescribeJob stays fast while jobs run.
WORKER_NICENESS = 10


@dataclass
class _Slot:
    index: int
    owner: str
    process: BaseProcess
    started: float
    quick_deaths: int = 0
    restart_at: float = 0.0


class WorkerPool:
    """The server's worker processes: started with the engine, watched every second, stopped with it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = replace(settings, task_concurrency=settings.worker_task_concurrency)
        self._store = store
        self._slots: list[_Slot] = []
        self._watch: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._slots = [self._launch(index) for index in range(self._settings.workers)]
        self._watch = [start_loop(self.supervise, _WATCH_SECONDS, self._store.rest, "workers")]

    # --- what the supervisor asks: the workers look at the store themselves ---------------------

    def run(self, job: Job) -> None:
        """Nothing to do: each worker runs the Active jobs it finds."""

    def drain(self, job_id: str) -> None:
        """Nothing to do: each worker stops the runner of a job no longer Active at its next look."""

    async def busy_with(self, job: Job) -> bool:
        """A worker still holds a live lease on the job's chunks (it gives them back when its runner stops; a dead
        worker's are given back by ``supervise``, or expire)."""
        return await self._store.has_live_lease(job.id)

    def retry_now(self) -> None:
        """Nothing to do: the workers find out themselves that the store writes again."""

    # --- the processes ------------------------------------------------------------------------

    def _launch(self, index: int, quick_deaths: int = 0) -> _Slot:
        owner = f"worker-{index}-{uuid.uuid4().hex[:16]}"
        level = logging.getLogger().getEffectiveLevel()
        process = _SPAWN.Process(
            target=run_worker,
            args=(self._settings, owner, os.getpid(), level),
            name=f"batchops-worker-{index}",
            daemon=True,
        )
        process.start()
        log.info("worker %d started (pid %s, lease owner %s)", index, process.pid, owner)
        return _Slot(index, owner, process, time.monotonic(), quick_deaths)

    async def supervise(self) -> None:
        """Restart every worker that died; its chunks' leases are given back first."""
        for n, slot in enumerate(self._slots):
            if slot.process.is_alive():
                continue
            now = time.monotonic()
            if not slot.restart_at:
                quick = now - slot.started < _QUICK_DEATH_SECONDS
                slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
                slot.restart_at = now + (min(30.0, 2.0**slot.quick_deaths) if quick else 0.0)
                log.warning(
                    "worker %d (pid %s) exited with code %s; its leased chunks go back to the other workers",
                    slot.index,
                    slot.process.pid,
                    slot.process.exitcode,
                    extra={"action": "worker_died"},
                )
                await self._store.release_chunks(owner=slot.owner)
                process_ended(slot.process.pid)
            if now >= slot.restart_at:
                slot.process.close()
                self._slots[n] = self._launch(slot.index, slot.quick_deaths)

    async def stop(self) -> None:
        await cancel_all(self._watch)  # first: a worker stopped now is not one to restart
        for slot in self._slots:
            if slot.process.is_alive():
                slot.process.terminate()  # SIGTERM: the worker stops its runners, flushes and releases
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        deadline = time.monotonic() + _STOP_SECONDS
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                log.warning("worker %d (pid %s) did not stop in time; killed", slot.index, slot.process.pid)
                slot.process.kill()
                slot.process.join()
            process_ended(slot.process.pid)


def run_worker(settings: Settings, owner: str, parent_pid: int, log_level: int) -> None:
    """A worker process's main function (the target of the spawned process)."""
    os.nice(WORKER_NICENESS)
    configure(log_level, settings.log_format, worker_process_name())
    asyncio.run(_work(settings, owner, parent_pid))


async def _work(settings: Settings, owner: str, parent_pid: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # the server stopping its workers
    # Ctrl-C in a terminal reaches the whole process group: the server stops first, then stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = await open_store(settings.database_url, migrate_schema=False)
    clients = StoreClients(settings)
    worker = Worker(settings, store, clients, owner=owner)
    await worker.start()
    polling = [start_loop(worker.poll, POLL_SECONDS, store.rest, "worker-tick")]
    try:
        while not stop.is_set() and os.getppid() == parent_pid:  # the server is gone: stop too
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await cancel_all(polling)
        await worker.stop()
        await clients.aclose()
        await store.close()
