"""PostgreSQL for the scale-out workloads: a fresh, migrated database per measurement (dropped after), the job
status history read from it, and ``batchops worker`` processes on it.

The server is the local one (``127.0.0.1:5432``, user ``postgres``) unless ``BATCHOPS_BENCH_POSTGRES_URL`` names
another. The database itself is made as the tests make theirs (``tests.support.postgres.new_database``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg

from batchops.store.sql.urls import parse
from tests.support import postgres

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HOW_TO_START = (
    "the scale-out benchmarks need PostgreSQL: start the local one (`service postgresql start`; user postgres on "
    "127.0.0.1:5432 without a password) or set BATCHOPS_BENCH_POSTGRES_URL=postgresql://user:password@host/db"
)


def server_url() -> str:
    return os.environ.get("BATCHOPS_BENCH_POSTGRES_URL", DEFAULT_URL)


def conninfo(url: str) -> str:
    """libpq's spelling of a batchops database URL."""
    return parse(url).sync_url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new database with batchops' tables (and the chunk queue's), dropped on exit.

    Commits do not wait for the disk (``synchronous_commit = off``), as a deployment that accepts losing the last
    moments of outcomes on a crash would run it; they are recorded again when their chunks run again.
    """
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres.new_database(server_url(), "batchops_bench"))
        except postgres.NoPostgres as exc:
            raise RuntimeError(f"{HOW_TO_START} ({exc})") from None
        yield url


def status_history(url: str, job_id: str) -> list[tuple[float, str]]:
    """The job's status moves with their times (the server's wall clock), from its PostgreSQL."""
    with psycopg.connect(conninfo(url)) as conn:
        query = "SELECT at, to_status FROM job_events WHERE job_id = %s ORDER BY id"
        rows = conn.execute(query, (job_id,)).fetchall()
    return [(float(at), str(status)) for at, status in rows]


@contextmanager
def queue_workers(
    directory: Path, database: str, s3_endpoint: str, count: int, env: dict[str, str], *args: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``batchops worker`` processes on ``database``, stopped (SIGTERM, then kill) on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "batchops", "worker", "--database", database, "--s3-endpoint", s3_endpoint]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            with (directory / f"worker-{n}.log").open("ab") as log:
                started.append(
                    subprocess.Popen([*command, *args], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
                )
        wait_until_listening(database, count, started)
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_listening(
    database: str, count: int, processes: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    """Until ``count`` workers have registered with the queue (procrastinate's worker table): a job created
    sooner would share the cores with their start-up (imports), which is not what is measured."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            if row is not None and row[0] >= count:
                return
            exited = [p.args for p in processes if p.poll() is not None]
            if exited or time.monotonic() > deadline:
                what = "exited" if exited else f"did not register within {timeout:.0f} s"
                raise RuntimeError(f"a batchops worker {what} (see its worker-N.log)")
            time.sleep(0.1)  # polling interval of the condition above
