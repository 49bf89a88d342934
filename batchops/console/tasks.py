"""The job page's task table: the job's failed (or succeeded) tasks, filtered by error code and key prefix, newest
first or by key, a page at a time, live while the job runs; the counts by error code link to their filter.

The filters are the page's own query string, named as on the API (``status``, ``errorCode``, ``prefix``,
``order``, ``nextToken``), so the live refresh asks for the same page. Pages are keyset pages: Next carries the
page's token; Previous goes back along ``trail``, the tokens of the pages before this one ("" is the first).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from batchops.console.state import console_state
from batchops.domain.job import Job
from batchops.domain.task import TaskStatus
from batchops.domain.tasklist import TaskCounts, TaskOrder, TaskPage, TaskQuery, parse_query_string
from batchops.errors import ValidationError

#: Tasks in one page of the table.
PAGE_SIZE = 25
#: Pages Previous can step back through (First always goes to the first).
MAX_TRAIL = 50


@dataclass(frozen=True)
class TaskTable:
    """What the table shows and the links it offers."""

    job_path: str
    query: TaskQuery
    trail: tuple[str, ...]
    page: TaskPage | None
    counts: TaskCounts
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.query.status is TaskStatus.FAILED

    @property
    def filtered(self) -> bool:
        return bool(self.query.error_codes or self.query.prefix or not self.failed)

    def url(self, **changes: Any) -> str:
        """This table with ``changes`` (fields of TaskQuery, or ``trail``), on its first page unless a token or
        trail is among them."""
        trail = changes.pop("trail", ())
        query = dataclasses.replace(self.query, **{"token": None, **changes})
        return f"{self.job_path}?{query_string(query, trail)}#tasks"

    def next_url(self) -> str | None:
        if self.page is None or self.page.next_token is None:
            return None
        trail = (*self.trail, self.query.token or "")[-MAX_TRAIL:]
        return self.url(token=self.page.next_token, trail=trail)

    def previous_url(self) -> str | None:
        if not self.trail:
            return None
        return self.url(token=self.trail[-1] or None, trail=self.trail[:-1])

    def first_url(self) -> str | None:
        return self.url() if self.query.token else None

    def code_url(self, code: str) -> str:
        return self.url(status=TaskStatus.FAILED, error_codes=(code,))


def query_string(query: TaskQuery, trail: tuple[str, ...] = ()) -> str:
    """``query`` as the page's query string (defaults left out); names that are not UTF-8 kept byte for byte."""
    pairs: list[tuple[str, str]] = []
    if query.status is not TaskStatus.FAILED:
        pairs.append(("status", "Succeeded"))
    pairs += [("errorCode", code) for code in query.error_codes]
    if query.prefix:
        pairs.append(("prefix", query.prefix))
    if query.order is not TaskOrder.NEWEST:
        pairs.append(("order", query.order.value))
    if query.token:
        pairs.append(("nextToken", query.token))
    pairs += [("trail", token) for token in trail]
    return urlencode(pairs, encoding="utf-8", errors="surrogateescape")


async def task_table(request: Request, job: Job) -> TaskTable:
    """The table the page's query string asks for; a bad value is shown in the table's place, named."""
    jobs = console_state(request).services.jobs
    job_path = f"{request.scope.get('root_path', '')}/jobs/{job.id}"
    counts = await jobs.task_counts(job.account_id, job.id)
    trail = tuple(request.query_params.getlist("trail"))[-MAX_TRAIL:]
    try:
        query = parse_query_string(request.scope.get("query_string", b"").decode("latin-1"))
        query = dataclasses.replace(query, limit=PAGE_SIZE)
        page = await jobs.tasks(job.account_id, job.id, query)
    except ValidationError as exc:
        said = f"{exc}. Clear the filter to start over."
        return TaskTable(job_path, TaskQuery(limit=PAGE_SIZE), (), None, counts, said)
    return TaskTable(job_path, query, trail, page, counts)
