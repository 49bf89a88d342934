"""Where a job's report lives and what its files hold: the one statement the writer and the reader share.

Under the report bucket (``<prefix>/`` omitted when there is no prefix)::

    <prefix>/job-<id>/results/<sha1>.csv    result files, rows in ``REPORT_SCHEMA`` order, no header
    <prefix>/job-<id>/manifest.json         the index: every result file with its status and MD5
    <prefix>/job-<id>/manifest.json.md5     hex MD5 of manifest.json and a newline

It imports only the domain, so the Python client can read a report without the server's writer.
"""

from __future__ import annotations

import hashlib

from batchops.domain.task import TaskStatus

REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
#: The columns of a result row, in order.
REPORT_COLUMNS = tuple(name.strip() for name in REPORT_SCHEMA.split(","))
#: How a result file's status is written (the index's ``TaskExecutionStatus``, a row's TaskStatus column).
STATUS_NAMES = {TaskStatus.SUCCEEDED: "succeeded", TaskStatus.FAILED: "failed"}
INDEX_NAME = "manifest.json"


def job_folder(prefix: str | None, job_id: str) -> str:
    """``<prefix>/job-<id>``, or ``job-<id>`` without a prefix; a trailing ``/`` on the prefix is dropped."""
    prefix = (prefix or "").rstrip("/")
    return f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}"


def index_key(folder: str) -> str:
    return f"{folder}/{INDEX_NAME}"


def result_file_key(folder: str, job_id: str, status: TaskStatus, part: int) -> str:
    """The SHA-1 of (job id, status, part) names the file, so a report written again overwrites the same keys."""
    name = hashlib.sha1(f"{job_id}/{STATUS_NAMES[status]}/{part}".encode()).hexdigest()
    return f"{folder}/results/{name}.csv"


#: The longest key the report adds after its prefix: ``/job-<uuid>/results/<sha1>.csv``.
LONGEST_SUFFIX = len("/" + result_file_key(job_folder(None, "0" * 36), "0" * 36, TaskStatus.SUCCEEDED, 0))
