"""The composition root: the one place that opens the job store and builds the engine (the supervisor and, with
``--workers N``, its worker pool), the job service, the API app and the console app, and serves them as one
ASGI app. ``batchops server`` and ``make run`` (batchops.demo) both start here.

With ``--dispatch procrastinate`` several servers may share one PostgreSQL database: each serves the API and the
console, and the one holding the leadership lock runs the engine (``batchops.engine.leadership``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.routing import Mount, Router
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG

from batchops.api.app import create_app
from batchops.api.body_guard import BodyGuard
from batchops.api.connections import bounded_protocol, connection_bounds
from batchops.api.scrape import MetricsListener
from batchops.console import create_console
from batchops.engine.clients import StoreClients
from batchops.engine.dispatch import ProcrastinateWorkforce
from batchops.engine.engine import Engine
from batchops.engine.jobqueue import QueuedJobWork
from batchops.engine.jobwork import JobSteps, JobWork, LocalJobWork
from batchops.engine.leadership import AdvisoryLock, Leadership, Supervision
from batchops.engine.loop import Wakeup
from batchops.engine.processes import WorkerPool
from batchops.engine.queue import queue_app
from batchops.engine.supervisor import TICK_SECONDS, Supervisor, Workforce
from batchops.engine.worker import Worker
from batchops.errors import ConfigError
from batchops.listening import ensure_port_free
from batchops.logs import configure
from batchops.service import ConsoleSessions, JobService, Services
from batchops.service.notifier import Notifier
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.store.sql import open_store
from batchops.store.sql.urls import POSTGRESQL, DatabaseUrl, parse

log = logging.getLogger(__name__)


def build_engine(settings: Settings, store: Store, tick_seconds: float = TICK_SECONDS) -> Engine:
    """The supervisor and its workforce: a Worker in this process (``workers = 0``, sharing the supervisor's S3
    clients and waking it when a job's work ends), ``workers`` worker processes, each running a Worker, or (with
    ``dispatch = "procrastinate"``, PostgreSQL only) the ``batchops worker`` processes the chunks are queued for.
    Preparing and finishing run in this process, or, when dispatching, on those workers too."""
    clients = StoreClients(settings)
    wakeup = Wakeup()
    workforce: Workforce
    job_work: JobWork
    if settings.dispatch == "procrastinate":
        app = queue_app(dispatching_database(settings))
        window, per_job = settings.dispatch_window, settings.dispatch_per_job
        stall = settings.worker_stall_seconds
        workforce = ProcrastinateWorkforce(store, app, window=window, per_job=per_job, stall_seconds=stall)
        job_work = QueuedJobWork(queue_app(dispatching_database(settings)), settings.chunk_size)
    else:
        if settings.workers:
            workforce = WorkerPool(settings, store)
        else:  # it runs every task: its key locks need not go through the store
            workforce = Worker(settings, store, clients, wake=wakeup, alone=True)
        job_work = LocalJobWork(JobSteps(settings, store, clients, wake=wakeup), wake=wakeup)
    remote = isinstance(workforce, ProcrastinateWorkforce)
    supervisor = Supervisor(
        settings,
        store,
        clients,
        workforce,
        tick_seconds=tick_seconds,
        wakeup=wakeup,
        remote_workers=remote,
        job_work=job_work,
    )
    return Engine(supervisor, workforce, clients)


def build_supervision(settings: Settings, store: Store) -> Supervision:
    """The engine; with ``--dispatch procrastinate`` (PostgreSQL) one per leadership term, run only while this
    server holds the leadership lock (several servers may share the database, one supervises)."""
    if settings.dispatch != "procrastinate":
        return build_engine(settings, store)  # the only server on its store: always the leader
    lock = AdvisoryLock(dispatching_database(settings))
    return Leadership(lock, lambda: build_engine(settings, store), standby_step=lambda: _probe_if_faulted(store))


async def _probe_if_faulted(store: Store) -> None:
    """A standby runs no supervisor, whose store watch would clear a full disk's fault once room returns: it
    probes itself, so its /healthz and CreateJob recover too."""
    if store.write_fault is not None and await store.probe_write():
        log.info("the store can write again", extra={"action": "disk_space_back"})


def build_app(settings: Settings, store: Store) -> ASGIApp:
    """The API at the root and the console at ``/console/``, on one JobService; the engine runs for the
    app's lifespan (while this server leads), and the store is closed after it."""
    engine = build_supervision(settings, store)
    jobs = JobService(store, engine.wake, settings)
    services = Services(
        jobs=jobs, sessions=ConsoleSessions(store), settings=settings, store=store, role=lambda: engine.role
    )

    listener = MetricsListener(settings, jobs) if settings.metrics == "on" and settings.metrics_port else None
    notifier = Notifier(store, settings)  # every server sends webhooks (each claims an event before it sends)

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        await engine.start()
        if listener is not None:
            await listener.start()
        await notifier.start()
        try:
            yield
        finally:
            await notifier.stop()
            if listener is not None:
                await listener.stop()
            await engine.stop()
            await jobs.close()
            await store.close()

    # Every path outside /console is the API's (the router's default), so the API alone answers routing errors,
    # in its dialect, and a missing trailing slash on /console is still redirected to the console.
    console = Mount("/console", create_console(services))
    router = Router(routes=[console], default=create_app(services), lifespan=lifespan)
    return BodyGuard(router, idle_seconds=settings.body_timeout_seconds)


def serve(settings: Settings, log_level: str = "info") -> None:
    """Open (and migrate) the store at ``settings.database_url`` and serve until stopped (Ctrl+C, SIGTERM).
    DatabaseUnavailable if the database cannot be reached; ConfigError if the port is taken."""
    ensure_port_free(settings.host, settings.port)  # before any line that says we serve
    if settings.metrics == "on" and settings.metrics_port:
        ensure_port_free(settings.host, settings.metrics_port)
    configure(log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.dispatch == "procrastinate":
        dispatching_database(settings)  # before opening the store: a SQLite URL is refused in one line
    store = asyncio.run(open_store(settings.database_url))
    app = build_app(settings, store)
    bounds = connection_bounds(settings)
    log.info("serving at most %d connections at once (listen backlog %d)", bounds.limit, bounds.backlog)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # JSON lines: uvicorn's own loggers go through ours (its config would give them a text handler)
        log_config=LOGGING_CONFIG if settings.log_format == "text" else None,
        access_log=False,
        server_header=False,  # the COS dialect names its own Server (tencent-cos), as COS clients expect
        http=bounded_protocol(bounds.limit, settings.head_timeout_seconds),
        backlog=bounds.backlog,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    uvicorn.Server(config).run()


def dispatching_database(settings: Settings) -> DatabaseUrl:
    """The PostgreSQL database the chunk queue lives in; ConfigError for SQLite (the local workforce serves it)."""
    url = parse(settings.database_url)
    if url.dialect != POSTGRESQL:
        raise ConfigError("--dispatch procrastinate needs PostgreSQL (--database postgresql://…)")
    return url
