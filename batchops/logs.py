"""How batchops logs: ``text`` (one line of words each) or ``json`` (``--log-format json``: one JSON object per
line, for log collectors).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the fields the line was logged
with (``extra=``: ``action``, ``status``, ``account``, ``route``…) and ``job_id`` when the line is about a job:
the code that works on a job runs inside ``about_job(job_id)``, and every line logged there (by any logger)
carries it. Fields hold only what the code passed: never a header, a query string or a key.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: The job the current task works on (None: no job).
_JOB_ID: ContextVar[str | None] = ContextVar("batchops_job_id", default=None)
#: A LogRecord's own attributes: everything else on a record was passed with ``extra=``.
#: (uvicorn's ``color_message`` is its message again, with terminal colour codes.)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


@contextmanager
def about_job(job_id: str) -> Iterator[None]:
    """Lines logged inside (and in the tasks started inside) are about this job."""
    token = _JOB_ID.set(job_id)
    try:
        yield
    finally:
        _JOB_ID.reset(token)


class JobIdFilter(logging.Filter):
    """Gives a record the job id of the work it was logged from, unless it names one itself; a line logged
    elsewhere (the supervisor's) that starts ``"job %s…"``, the code's convention for a line about a job, names
    its job as the first argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            job_id = _JOB_ID.get() or _named_job(record)
            if job_id is not None:
                record.job_id = job_id
        return True


def _named_job(record: logging.LogRecord) -> str | None:
    if isinstance(record.msg, str) and record.msg.startswith("job %s") and isinstance(record.args, tuple):
        first = record.args[0] if record.args else None
        return first if isinstance(first, str) else None
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a message's newlines are escaped by JSON)."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self._process is not None:
            line["process"] = self._process
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str | int, log_format: str = "text", process: str | None = None) -> None:
    """Set up the root logger of a batchops process (server, worker process, ``batchops worker``, demo).
    ``process`` names a worker process on each line (``worker <pid>``)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        where = f" [{process}]" if process else ""
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s %(name)s{where}: %(message)s"))
    handler.addFilter(JobIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def worker_process_name() -> str:
    return f"worker {os.getpid()}"
