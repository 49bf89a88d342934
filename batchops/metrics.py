"""Every metric batchops exports, defined once here (name, help, labels); the rest of the code only calls these.

``/metrics`` (batchops.api.scrape) answers in Prometheus' text format. With ``--workers N`` the server and
its worker processes write their values to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, set by ``batchops server`` before this module is imported: batchops.metrics_dir), and the
server's ``/metrics`` adds them up. ``batchops worker`` (scale-out) serves its own on ``--metrics-port``.

Labels are bounded: operations and error codes come from fixed sets, ``store`` is a configured endpoint, and
``route`` is the matched path template (never a raw path, which would hold job ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from batchops.errors import ConfigError
from batchops.metrics_dir import multiprocess

CONTENT_TYPE = CONTENT_TYPE_LATEST

# A counter's or histogram's creation time as a series of its own (``*_created``) only doubles what a scrape holds.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Latency buckets (seconds) for calls to an object store and for API requests: 1 ms to 30 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TASKS = Counter(
    "batchops_tasks",
    "Task outcomes recorded, by operation, status (succeeded, failed) and error code (empty for a success)",
    ["operation", "status", "error_code"],
)
S3_REQUEST_SECONDS = Histogram(
    "batchops_s3_request_duration_seconds",
    "Latency of each request (each attempt) to an object store, by store endpoint and S3 operation",
    ["store", "operation"],
    buckets=LATENCY_BUCKETS,
)
S3_IN_FLIGHT = Gauge(
    "batchops_s3_requests_in_flight",
    "Requests to a store waiting for their answer (the lean client's; summed over worker processes)",
    ["store"],
    multiprocess_mode="livesum",
)
S3_ADAPTIVE_LIMIT = Gauge(
    "batchops_s3_adaptive_limit",
    "The adaptive in-flight limit per store (halves on throttling, grows while answers are fast; summed over "
    "worker processes, each of which has its own)",
    ["store"],
    multiprocess_mode="livesum",
)
S3_THROTTLED = Counter(
    "batchops_s3_throttled",
    "Answers of a store that throttled a request (503 SlowDown, 429 or another throttling code), by operation",
    ["store", "operation"],
)
MANIFEST_ROWS = Counter(
    "batchops_manifest_rows_read",
    "Manifest rows (or listed objects) Preparing has stored as tasks; rate() gives Preparing rows per second",
)
API_REQUEST_SECONDS = Histogram(
    "batchops_api_request_duration_seconds",
    "Latency of each API request (S3 Control and COS routes), by method, route template and HTTP status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
#: Computed at scrape time from the job store (``JobsByStatus``), not counted.
JOBS = "batchops_jobs"
JOBS_HELP = "Jobs in each status (every account's, as the job store has them now)"

#: Every metric name a scrape can show (counters end in _total, histograms have _bucket/_sum/_count).
NAMES = (
    "batchops_tasks_total",
    "batchops_s3_request_duration_seconds",
    "batchops_s3_requests_in_flight",
    "batchops_s3_adaptive_limit",
    "batchops_s3_throttled_total",
    "batchops_manifest_rows_read_total",
    "batchops_api_request_duration_seconds",
    JOBS,
)


def count_tasks(operation: str, status: str, error_code: str, n: int = 1) -> None:
    TASKS.labels(operation, status, error_code).inc(n)


def observe_api_request(method: str, route: str, status: int, seconds: float) -> None:
    API_REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def count_manifest_rows(rows: int) -> None:
    MANIFEST_ROWS.inc(rows)


# --- multiprocess mode (batchops.metrics_dir) ----------------------------------------------------


def serve_own(host: str, port: int) -> None:
    """``batchops worker --metrics-port``: this process's metrics at ``http://host:port/metrics`` (a thread)."""
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve /metrics on {host}:{port} ({exc.strerror or exc}); choose another --metrics-port"
        ) from None


def process_ended(pid: int | None) -> None:
    """A worker process ended: its live gauges (in-flight, limit) leave the sums; its counters stay counted."""
    if pid is not None and multiprocess():
        mark_process_dead(pid)  # type: ignore[no-untyped-call]


# --- a scrape -------------------------------------------------------------------------------------


class JobsByStatus(Collector):
    """``batchops_jobs{status}`` from counts read from the store just before the scrape (every status, 0 too)."""

    def __init__(self, counts: Mapping[str, int], statuses: Iterable[str]) -> None:
        self._counts = counts
        self._statuses = tuple(statuses)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(JOBS, JOBS_HELP, labels=["status"])
        for status in self._statuses:
            family.add_metric([status], self._counts.get(status, 0))
        return [family]


def exposition(extra: Collector | None = None) -> bytes:
    """The text a scrape gets: this process's metrics (in multiprocess mode, every process's), then ``extra``."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if extra is None:
        return text
    own = CollectorRegistry()
    own.register(extra)
    return text + generate_latest(own)
