"""``batchops server --database postgresql://…``: a job runs to an exact report with its state in PostgreSQL,
and a server killed with kill -9 mid-job, restarted on the same database, completes it with every task once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support import postgres
from tests.support.crash import kill_9_mid_job_then_exact_report
from tests.support.jobs import (
    TAGGING,
    create_job,
    put_manifest,
    put_objects,
    read_report,
    wait_status,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own (dropped after it)."""
    with postgres.fresh_database() as url:
        yield url


def rows_in(url: str, table: str) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def test_a_tagging_job_completes_with_its_state_in_postgresql(
    start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any, database: str
) -> None:
    server = start_server("--database", database, data_dir=tmp_path / "pg")
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, [f"k{i}" for i in range(200)])
    rows = [f"{bucket},k{i}" for i in range(200)] + [f"{bucket},missing-{i}" for i in range(10)]

    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    job = wait_status(control, job_id, "Complete", timeout=120)

    assert job["ProgressSummary"] == {
        **job["ProgressSummary"],
        "TotalNumberOfTasks": 210,
        "NumberOfTasksSucceeded": 200,
        "NumberOfTasksFailed": 10,
    }
    _, report = read_report(s3, reports, job_id)
    assert sorted(row[1] for row in report) == sorted(
        [f"k{i}" for i in range(200)] + [f"missing-{i}" for i in range(10)]
    )
    assert sum(row[3] == "failed" for row in report) == 10
    assert (rows_in(database, "jobs"), rows_in(database, "tasks")) == (1, 210)  # the job lives in PostgreSQL
    assert not (tmp_path / "pg" / "batchops.sqlite3").exists()


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-process", "2-workers"])
def test_kill_9_mid_job_on_postgresql_loses_no_task_and_counts_none_twice(
    start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any, database: str, workers: str
) -> None:
    args = ("--database", database, "--task-concurrency", "4", "--workers", workers)
    kill_9_mid_job_then_exact_report(start_server, s3, new_bucket, tmp_path / "crash", *args)
    assert rows_in(database, "tasks") == 3100
