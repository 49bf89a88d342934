"""Which of several servers on one PostgreSQL database supervises: the one holding a PostgreSQL advisory lock.

Every ``batchops server --dispatch procrastinate`` on the database serves the API and the console; one at a time
runs the engine (the supervisor's loops and the dispatch to the ``batchops worker`` processes). It holds
``pg_try_advisory_lock`` on a connection of its own for as long as it leads. When its process dies (kill -9 too)
PostgreSQL ends that session and frees the lock, and a standby, which tries every ``RETRY_SECONDS``, takes over.
A leader asks its lock connection every ``CHECK_SECONDS``; once it does not answer, the lock may be someone else's:
the leader steps down at once (stops its engine), then competes again like any standby.

A leader whose host vanishes without closing its session (power lost, network cut) is noticed by PostgreSQL
through TCP keepalives asked for on the lock's session: it ends the session, freeing the lock, after about
``KEEPALIVE_IDLE + KEEPALIVE_COUNT x KEEPALIVE_INTERVAL`` (11 s), while the cut-off leader stops after about
``CHECK_SECONDS + ANSWER_SECONDS`` (4 s): it has stepped down before another can lead. Were two to supervise for a
moment anyway, they would do no harm: every status move is a compare-and-set in the store and every task's
outcome is counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import psycopg
from psycopg.conninfo import make_conninfo

from batchops.engine.queue import conninfo
from batchops.store.sql.urls import DatabaseUrl

log = logging.getLogger(__name__)

#: The advisory lock's key: "batchops" in ASCII, one bigint.
LOCK_KEY = int.from_bytes(b"batchops", "big")
RETRY_SECONDS = 1.0
CHECK_SECONDS = 1.0
#: How long the lock connection may take to answer before the leader counts it as lost.
ANSWER_SECONDS = 3.0
#: TCP keepalives on the lock's connection, at both ends (libpq's and the PostgreSQL session's own settings).
KEEPALIVE_IDLE = 5
KEEPALIVE_INTERVAL = 2
KEEPALIVE_COUNT = 3

LEADER = "leader"
STANDBY = "standby"


class Supervision(Protocol):
    """What the composition root runs for the server's lifespan: the engine itself, or a ``Leadership`` over it."""

    @property
    def role(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def wake(self) -> None: ...


class AdvisoryLock:
    """A session advisory lock on a connection of its own (held for as long as the connection lives)."""

    def __init__(self, url: DatabaseUrl, key: int = LOCK_KEY) -> None:
        self._conninfo = make_conninfo(
            conninfo(url),
            keepalives=1,
            keepalives_idle=KEEPALIVE_IDLE,
            keepalives_interval=KEEPALIVE_INTERVAL,
            keepalives_count=KEEPALIVE_COUNT,
            # The server's end: a session whose client vanished ends (and frees the lock) in seconds, not hours.
            options=(
                f"-c tcp_keepalives_idle={KEEPALIVE_IDLE} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL} "
                f"-c tcp_keepalives_count={KEEPALIVE_COUNT}"
            ),
        )
        self._key = key
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self.held = False

    async def try_take(self) -> bool:
        """Take the lock if nobody holds it; False if someone does or the database does not answer."""
        try:
            conn = await self._connection()
            async with asyncio.timeout(ANSWER_SECONDS):
                row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))).fetchone()
        except (psycopg.Error, TimeoutError) as exc:
            log.debug("the leadership lock cannot be tried now: %s", exc)
            await self.release()
            return False
        self.held = bool(row and row[0])
        return self.held

    async def still_held(self) -> bool:
        """Whether the lock's connection still answers (the lock lives exactly as long as its session)."""
        if self._conn is None or not self.held:
            return False
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                await self._conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError):
            await self.release()
            return False
        return True

    async def release(self) -> None:
        """Close the connection: PostgreSQL frees the lock with its session."""
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=5)
        return self._conn


async def _nothing() -> None:
    """No housekeeping of its own while standing by."""


class Leadership:
    """Runs an engine (a new one for each term, from ``build``) while this server holds the lock; while it stands
    by, ``standby_step`` runs at each try instead (housekeeping every server needs, e.g. probing its store)."""

    def __init__(
        self,
        lock: AdvisoryLock,
        build: Callable[[], Supervision],
        *,
        standby_step: Callable[[], Awaitable[None]] = _nothing,
        retry_seconds: float = RETRY_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._lock = lock
        self._build = build
        self._standby_step = standby_step
        self._retry_seconds = retry_seconds
        self._check_seconds = check_seconds
        self._engine: Supervision | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def role(self) -> str:
        return LEADER if self._engine is not None else STANDBY

    async def start(self) -> None:
        self._task = asyncio.create_task(self._compete(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._lock.release()

    def wake(self) -> None:
        """Ask the engine for a tick; a standby has none (the leader's own tick sees the change)."""
        if self._engine is not None:
            self._engine.wake()

    async def _compete(self) -> None:
        while True:
            if await self._lock.try_take():
                await self._term()
            else:
                await self._stand_by()
            await asyncio.sleep(self._retry_seconds)

    async def _term(self) -> None:
        try:
            await self._lead()
        except Exception:  # an engine that cannot start: let another server try, and try again later
            log.exception("supervising failed; this server steps down and competes again")
            await self._lock.release()

    async def _stand_by(self) -> None:
        try:
            await self._standby_step()
        except Exception as exc:  # tried again at the next try for the lock
            log.warning("a standby's housekeeping step failed: %s", exc)

    async def _lead(self) -> None:
        engine = self._build()
        log.info("this server leads: it supervises the jobs and dispatches their chunks", extra={"action": "lead"})
        self._engine = engine
        try:
            await engine.start()
            while await self._lock.still_held():
                await asyncio.sleep(self._check_seconds)
            log.warning("this server lost its leadership lock (its database connection broke): it steps down")
        finally:
            self._engine = None
            await engine.stop()
            await self._lock.release()
            log.info("this server no longer leads: it is a standby", extra={"action": "step_down"})
