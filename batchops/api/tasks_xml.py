"""Listing a job's tasks on either wire (a batchops extension, ``BatchOpsListJobTasks`` in the botocore overlay):
``GET …/jobs/{id}/batchops-tasks?status=&errorCode=&prefix=&order=&maxResults=&nextToken=`` answered with
``ListJobTasksResult``. Both dialects share it; each only roots the answer (S3 Control's namespace or none).

Keys may hold any character, XML's forbidden ones too, so ``Bucket``, ``Key`` and ``VersionId`` are URL-encoded
(``EncodingType`` url, as S3's ListObjects does when asked): ``urllib.parse.unquote`` gives them back exactly,
bytes that were not UTF-8 included (``errors="surrogateescape"``). The query is read from the raw query string
for the same reason: a prefix of such bytes reaches the store as sent.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.etree.ElementTree import Element

from starlette.requests import Request

from batchops import xmlutil
from batchops.api import jobxml
from batchops.domain.task import TaskStatus
from batchops.domain.tasklist import TaskCounts, TaskPage, TaskQuery, parse_query_string

RESULT_ROOT = "ListJobTasksResult"
ENCODING_TYPE = "url"
#: What the answer calls each outcome (as the request's ``status`` spells it).
STATUS_NAMES = {TaskStatus.FAILED: "Failed", TaskStatus.SUCCEEDED: "Succeeded"}


def parse_query(request: Request) -> TaskQuery:
    """The listing the request asks for. ValidationError names a value that is wrong and what it takes."""
    return parse_query_string(request.scope.get("query_string", b"").decode("latin-1"))


def render_tasks(root: Element, job_id: str, page: TaskPage, counts: TaskCounts | None) -> bytes:
    """The page of tasks into ``root`` (the dialect's ``ListJobTasksResult``), with the job's counts if given."""
    xmlutil.add(root, "JobId", job_id)
    xmlutil.add(root, "EncodingType", ENCODING_TYPE)
    listing = xmlutil.add(root, "Tasks")
    for task in page.tasks:
        row = task.row
        element = xmlutil.add(listing, "Task")
        xmlutil.add(element, "TaskIndex", task.seq)
        xmlutil.add(element, "Bucket", encoded(row.bucket))
        xmlutil.add(element, "Key", encoded(row.key))
        jobxml.add_optional(element, "VersionId", None if row.version_id is None else encoded(row.version_id))
        xmlutil.add(element, "Status", STATUS_NAMES.get(row.status, row.status.name.title()))
        jobxml.add_optional(element, "ErrorCode", xmlutil.xml_safe(row.error_code) if row.error_code else None)
        jobxml.add_optional(element, "HttpStatus", row.http_status or None)
        jobxml.add_optional(element, "ResultMessage", xmlutil.xml_safe(row.message) if row.message else None)
    if counts is not None:
        _add_counts(root, counts)
    jobxml.add_optional(root, "NextToken", page.next_token)
    return jobxml.to_bytes(root)


def _add_counts(root: Element, counts: TaskCounts) -> None:
    xmlutil.add(root, "NumberOfTasksSucceeded", counts.succeeded)
    xmlutil.add(root, "NumberOfTasksFailed", counts.failed)
    listing = xmlutil.add(root, "ErrorCodeCounts")
    for code, count in sorted(counts.by_error_code.items(), key=lambda item: (-item[1], item[0])):
        element = xmlutil.add(listing, "ErrorCodeCount")
        xmlutil.add(element, "ErrorCode", xmlutil.xml_safe(code))
        xmlutil.add(element, "Count", count)


def encoded(name: str) -> str:
    """A bucket, key or version id URL-encoded (its bytes if it was not UTF-8)."""
    return quote(name, safe="/", encoding="utf-8", errors="surrogateescape")
