"""``batchops server --database postgresql://…``: a job runs to an exact report with its state in PostgreSQL, none
in the data dir. (The rest of the integration suite runs on PostgreSQL too, kill -9 included: tests ending
``[postgresql]``.)"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.jobs import (
    TAGGING,
    create_job,
    put_manifest,
    put_objects,
    read_report,
    wait_status,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("postgresql", reason="checks where a PostgreSQL server keeps its state"),
]


def rows_in(url: str, table: str) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def test_a_tagging_job_completes_with_its_state_in_postgresql(
    start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any, job_database: str
) -> None:
    server = start_server(data_dir=tmp_path / "pg")
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
    assert (rows_in(job_database, "jobs"), rows_in(job_database, "tasks")) == (1, 210)  # the job lives in PostgreSQL
    assert not (tmp_path / "pg" / "batchops.sqlite3").exists()

