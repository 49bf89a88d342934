"""Listing a big job's tasks: does a page cost the same at the start, the middle and the end of the job?

    python -m bench.task_listing [--tasks 10000000] [--databases sqlite,postgresql] [--page 100]

Fills one job with ``--tasks`` task outcomes, 1 % of them failed (three error codes), by a bulk insert in SQL
(generate_series on PostgreSQL, a recursive CTE on SQLite), not through the engine; then times, through the
store's own ``list_tasks``, the first, a middle and the last page of the failures: newest first, filtered by one
error code, by key, and by a key prefix; and the counts by error code. A page deep in the listing is asked for
with the token that page's predecessor would have given (the token is only where the page starts). Each figure
is the median of ``--repeat`` reads. SQLite's file lives in ``--dir`` (a temporary directory by default);
PostgreSQL is the local server (bench/postgres.py), a fresh database dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from batchops.domain.task import ReportRow, TaskStatus
from batchops.domain.tasklist import ListedTask, TaskOrder, TaskQuery, encode_token
from batchops.store.sql import SqlStore
from bench.postgres import fresh_database
from tests.support.job_store import make_spec

#: Every FAILED_EVERY-th task failed, with one of CODES (by its seq).
FAILED_EVERY = 100
CODES = ("NoSuchKey", "AccessDenied", "SlowDown")

_POSTGRES_FILL = """
INSERT INTO tasks (job_id, seq, bucket, key, version_id, status, error_code, http_status, message)
SELECT :job, n, convert_to('bucket', 'UTF8'), convert_to('obj/' || lpad(n::text, 10, '0'), 'UTF8'), NULL,
       CASE WHEN n % :every = 0 THEN 2 ELSE 1 END,
       CASE WHEN n % :every = 0 THEN (ARRAY[:c0, :c1, :c2])[(n / :every) % 3 + 1] END,
       CASE WHEN n % :every = 0 THEN 404 ELSE 200 END,
       CASE WHEN n % :every = 0 THEN 'the object does not exist' END
FROM generate_series(:start, :stop - 1) AS n
"""

_SQLITE_FILL = """
WITH RECURSIVE s(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM s WHERE n + 1 < :stop)
INSERT INTO tasks (job_id, seq, bucket, key, version_id, status, error_code, http_status, message)
SELECT :job, n, 'bucket', 'obj/' || substr('0000000000' || n, -10, 10), NULL,
       CASE WHEN n % :every = 0 THEN 2 ELSE 1 END,
       CASE WHEN n % :every = 0 THEN (CASE (n / :every) % 3 WHEN 0 THEN :c0 WHEN 1 THEN :c1 ELSE :c2 END) END,
       CASE WHEN n % :every = 0 THEN 404 ELSE 200 END,
       CASE WHEN n % :every = 0 THEN 'the object does not exist' END
FROM s
"""

#: Rows a fill statement inserts (one transaction each: bounded memory, progress shown).
BATCH = 1_000_000


def key_of(seq: int) -> str:
    return f"obj/{seq:010d}"


async def fill(store: SqlStore, tasks: int) -> tuple[str, float]:
    """A job with ``tasks`` outcomes; (its id, seconds the fill took)."""
    job_id, _ = await store.create_job("111111111111", make_spec("bench-listing"), [])
    statement = text(_POSTGRES_FILL if store.db.postgres else _SQLITE_FILL)
    started = time.perf_counter()
    for start in range(0, tasks, BATCH):
        stop = min(start + BATCH, tasks)
        arguments = {"job": job_id, "start": start, "stop": stop, "every": FAILED_EVERY}
        arguments.update({f"c{i}": code for i, code in enumerate(CODES)})
        async with store.engine.begin() as conn:
            await conn.execute(statement, arguments)
        print(f"  filled {stop:,} tasks ({time.perf_counter() - started:.0f} s)", flush=True)
    failed = len(range(0, tasks, FAILED_EVERY))
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE jobs SET total_tasks = :t, succeeded = :s, failed = :f WHERE id = :id"),
            {"t": tasks, "s": tasks - failed, "f": failed, "id": job_id},
        )
        if store.db.postgres:
            await conn.execute(text("ANALYZE tasks"))
        else:
            await conn.execute(text("ANALYZE"))
    return job_id, time.perf_counter() - started


def coded_seq(k: int) -> int:
    """The seq of the k-th failure (from 0) with error code CODES[1]."""
    return (3 * k + 1) * FAILED_EVERY


def starting_after(query: TaskQuery, seq: int) -> TaskQuery:
    """``query`` on the page that follows the task ``seq`` (the token its predecessor page would give)."""
    row = ReportRow("bucket", key_of(seq), None, TaskStatus.FAILED, "", 404, "")
    return TaskQuery(**{**query.__dict__, "token": encode_token(query, ListedTask(seq, row))})


async def median_ms(read: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await read()  # type: ignore[misc]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(store: SqlStore, job_id: str, tasks: int, page: int, repeat: int) -> list[tuple[str, str, float]]:
    """(listing, where, ms) for each listing at its first, middle and last page."""
    failed_seqs = range(0, tasks, FAILED_EVERY)
    newest = TaskQuery(limit=page)
    coded = TaskQuery(limit=page, error_codes=(CODES[1],))
    coded_count = len(range(1, len(failed_seqs), 3))  # the failures with CODES[1]: every third from the second
    by_key = TaskQuery(limit=page, order=TaskOrder.KEY)
    succeeded = TaskQuery(limit=page, status=TaskStatus.SUCCEEDED)
    prefixed = TaskQuery(limit=page, order=TaskOrder.KEY, prefix=key_of(tasks // 2)[:-4])
    middle, last = failed_seqs[len(failed_seqs) // 2], failed_seqs[min(page, len(failed_seqs) - 1)]
    coded_middle, coded_last = coded_seq(coded_count // 2), coded_seq(min(page, coded_count - 1))
    cases: list[tuple[str, str, TaskQuery]] = [
        ("failed, newest first", "first", newest),
        ("failed, newest first", "middle", starting_after(newest, middle)),
        ("failed, newest first", "last", starting_after(newest, last)),
        (f"failed, errorCode={CODES[1]}", "first", coded),
        (f"failed, errorCode={CODES[1]}", "middle", starting_after(coded, coded_middle)),
        (f"failed, errorCode={CODES[1]}", "last", starting_after(coded, coded_last)),
        ("failed, by key", "first", by_key),
        ("failed, by key", "middle", starting_after(by_key, middle)),
        ("failed, by key", "last", starting_after(by_key, failed_seqs[-page - 1])),
        (f"failed, prefix {prefixed.prefix}", "first", prefixed),
        (
            f"failed, prefix {prefixed.prefix}, newest",
            "first",
            TaskQuery(**{**prefixed.__dict__, "order": newest.order}),
        ),
        ("succeeded, newest first", "first", succeeded),
        ("succeeded, newest first", "middle", starting_after(succeeded, tasks // 2 + 1)),
        ("succeeded, newest first", "last", starting_after(succeeded, page + 2)),
    ]
    results = []
    for name, where, query in cases:
        found = await store.list_tasks(job_id, query)
        assert found.tasks, f"{name} at its {where} page found nothing"
        results.append((name, where, await median_ms(lambda q=query: store.list_tasks(job_id, q), repeat)))
    results.append(("counts by error code", "-", await median_ms(lambda: store.task_counts(job_id), repeat)))
    return results


async def run_on(url: str | Path, label: str, tasks: int, page: int, repeat: int) -> None:
    store = await SqlStore.open(url)
    try:
        print(f"{label}: filling {tasks:,} tasks, {100 / FAILED_EVERY:.0f} % failed", flush=True)
        job_id, seconds = await fill(store, tasks)
        print(f"{label}: filled in {seconds:.0f} s; pages of {page}, median of {repeat} reads")
        for name, where, ms in await measure(store, job_id, tasks, page, repeat):
            print(f"  {label:10} {tasks:>11,} tasks  {name:32} {where:7} {ms:8.2f} ms", flush=True)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="Where SQLite's file goes (default: a temporary one).")
    options = parser.parse_args()
    for database in options.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory(dir=options.dir) as where:
                asyncio.run(
                    run_on(str(Path(where) / "jobs.sqlite3"), "sqlite", options.tasks, options.page, options.repeat)
                )
        elif database == "postgresql":
            with fresh_database() as url:
                asyncio.run(run_on(url, "postgresql", options.tasks, options.page, options.repeat))
        else:
            parser.error(f"--databases takes sqlite and postgresql, not {database!r}")


if __name__ == "__main__":
    main()
