"""batchops.metrics names every metric once; the Grafana dashboard and the README name only those (and the README
each of them); a scrape shows the jobs by status; JSON log lines carry the job id and the fields they were given."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from batchops import metrics
from batchops.domain.status import JobStatus
from batchops.logs import JobIdFilter, JsonFormatter, about_job
from batchops.metrics_dir import MULTIPROC_ENV, use_multiprocess_dir

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "batchops-dashboard.json"
README = ROOT / "README.md"
#: What PromQL adds to a histogram's name.
SERIES_SUFFIXES = ("_bucket", "_sum", "_count")


def defined() -> set[str]:
    """The names a scrape shows for the metrics batchops.metrics defines (a counter's with ``_total``)."""
    names = {metrics.JOBS}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def metric_name(series: str) -> str:
    for suffix in SERIES_SUFFIXES:
        if series.endswith(suffix) and series.removesuffix(suffix) in metrics.NAMES:
            return series.removesuffix(suffix)
    return series


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def test_names_lists_every_metric_defined_and_each_starts_with_batchops() -> None:
    assert set(metrics.NAMES) == defined()
    assert all(name.startswith("batchops_") for name in metrics.NAMES)


def test_the_dashboard_names_only_defined_metrics_and_shows_each() -> None:
    expressions = dashboard_expressions()
    assert len(expressions) >= 8
    shown = set()
    for expr in expressions:
        named = {metric_name(series) for series in re.findall(r"\bbatchops_[a-zA-Z0-9_:]+", expr)}
        assert named, f"{expr!r} names no batchops metric"
        assert named <= set(metrics.NAMES), f"{expr!r} names {named - set(metrics.NAMES)}, not in batchops.metrics"
        shown |= named
    assert shown == set(metrics.NAMES)


def test_the_readme_documents_each_metric() -> None:
    text = README.read_text()
    table = text[text.index("| metric | type | labels | what it counts |") :].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]}
    assert rows == set(metrics.NAMES)


def test_a_scrape_shows_every_status_with_its_count() -> None:
    counts = {JobStatus.ACTIVE.value: 2, JobStatus.COMPLETE.value: 5}
    text = metrics.exposition(metrics.JobsByStatus(counts, [s.value for s in JobStatus])).decode()
    family = next(f for f in text_string_to_metric_families(text) if f.name == metrics.JOBS)
    by_status = {s.labels["status"]: s.value for s in family.samples}
    assert by_status == {s.value: counts.get(s.value, 0) for s in JobStatus}


def test_tasks_are_counted_by_operation_status_and_code() -> None:
    before = metrics.TASKS.labels("S3DeleteObject", "failed", "AccessDenied")._value.get()
    metrics.count_tasks("S3DeleteObject", "failed", "AccessDenied", 3)
    after = metrics.TASKS.labels("S3DeleteObject", "failed", "AccessDenied")._value.get()
    assert after - before == 3


JsonLog = tuple[logging.Logger, io.StringIO]


@pytest.fixture
def json_log() -> JsonLog:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobIdFilter())
    logger = logging.getLogger("batchops.test-json")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    return logger, out


def lines_of(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]



def test_a_json_line_holds_time_level_logger_message_and_its_fields(json_log: JsonLog) -> None:
    logger, out = json_log
    logger.info("POST %s: %d\nforged line", "/v20180820/jobs", 200, extra={"action": "request", "status": 200})
    (line,) = lines_of(out)  # a newline in the message stays inside its line
    assert line["level"] == "INFO" and line["logger"] == "batchops.test-json"
    assert line["message"] == "POST /v20180820/jobs: 200\nforged line"
    assert (line["action"], line["status"]) == ("request", 200)
    assert str(line["time"]).endswith("+00:00") and "job_id" not in line


def test_lines_about_a_job_carry_its_id(json_log: JsonLog) -> None:
    logger, out = json_log
    with about_job("job-in-context"):
        logger.debug("claimed a chunk")
        logger.info("about another", extra={"job_id": "named-itself"})
    logger.warning("job %s: leases not given back", "named-by-convention")
    logger.warning("no job here")
    ids = [line.get("job_id") for line in lines_of(out)]
    assert ids == ["job-in-context", "named-itself", "named-by-convention", None]


def test_an_exception_is_one_field_of_its_line(json_log: JsonLog) -> None:
    logger, out = json_log
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (line,) = lines_of(out)
    assert "ValueError: boom" in str(line["exception"])


def test_an_earlier_runs_values_are_removed_and_a_running_servers_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "restored after the test")
    parent = tmp_path / "metrics"
    ended = parent / "999999999"  # above any pid: no such process
    ended.mkdir(parents=True)
    (ended / "counter_1.db").write_bytes(b"an earlier run's counts")
    running = parent / str(os.getppid())
    running.mkdir()
    mine = use_multiprocess_dir(parent)
    assert mine == parent / str(os.getpid()) and os.environ[MULTIPROC_ENV] == str(mine)
    assert sorted(p.name for p in parent.iterdir()) == sorted([running.name, mine.name])
