"""Listing a job's tasks while it runs (``batchops job tasks``): which tasks (outcome, error codes, key prefix),
in which order, one page at a time, and the opaque token that carries a listing on to its next page.

A page resumes after the last task the previous one showed (keyset paging, never an offset), so a page costs
the same wherever it is in a job of millions of tasks, and tasks that end meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl

from batchops.domain.task import ReportRow, TaskStatus
from batchops.errors import ValidationError

#: Tasks per page when the caller names no size, and the most one page may hold.
DEFAULT_PAGE = 100
MAX_PAGE = 1000
#: A prefix or an error code longer than this matches nothing a task can hold (keys are at most 1,024 bytes).
MAX_FILTER_BYTES = 1024
MAX_ERROR_CODES = 20

#: The outcomes a listing may ask for, as the wire spells them.
LISTED_STATUSES = {"Failed": TaskStatus.FAILED, "Succeeded": TaskStatus.SUCCEEDED}


class TaskOrder(StrEnum):
    NEWEST = "newest"  # the task last in the manifest first (seq descending)
    KEY = "key"  # by key, in byte order of its UTF-8 (then manifest order)


@dataclass(frozen=True)
class TaskQuery:
    """Which of a job's ended tasks to list, in which order, and where the page starts (``token``)."""

    status: TaskStatus = TaskStatus.FAILED
    error_codes: tuple[str, ...] = ()
    prefix: str = ""
    order: TaskOrder = TaskOrder.NEWEST
    limit: int = DEFAULT_PAGE
    token: str | None = None

    def filters(self) -> str:
        """A digest of what the listing selects and how it is ordered: a token only continues the same listing."""
        chosen = [int(self.status), sorted(self.error_codes), _bytes_of(self.prefix).hex(), self.order.value]
        return hashlib.sha256(json.dumps(chosen).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last task's seq (and key, when ordered by key)."""

    seq: int
    key: str | None = None


@dataclass(frozen=True)
class ListedTask:
    """A task as a listing shows it: its report row, and its position in the manifest (0-based)."""

    seq: int
    row: ReportRow


@dataclass(frozen=True)
class TaskPage:
    tasks: list[ListedTask]
    next_token: str | None = None


@dataclass(frozen=True)
class TaskCounts:
    """A job's ended tasks now: how many succeeded, failed, and failed with each error code ("" for none)."""

    succeeded: int
    failed: int
    by_error_code: dict[str, int] = field(default_factory=dict)


def encode_token(query: TaskQuery, last: ListedTask) -> str:
    """The token of the page after ``last`` (URL-safe, no padding)."""
    state: dict[str, object] = {"f": query.filters(), "s": last.seq}
    if query.order is TaskOrder.KEY:
        state["k"] = base64.b64encode(_bytes_of(last.row.key)).decode("ascii")
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(query: TaskQuery) -> Cursor | None:
    """Where ``query.token`` resumes (None: the first page). ValidationError if it is not a token of this listing."""
    if not query.token:
        return None
    try:
        raw = base64.urlsafe_b64decode(query.token + "=" * (-len(query.token) % 4))
        state = json.loads(raw)
        seq, filters = state["s"], state["f"]
        key = base64.b64decode(state["k"], validate=True).decode("utf-8", "surrogateescape") if "k" in state else None
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            "nextToken is not a token this server gave; pass the NextToken of the previous page as it came, or none "
            "for the first page",
            "nextToken",
        ) from None
    if filters != query.filters() or not isinstance(seq, int) or (query.order is TaskOrder.KEY) != (key is not None):
        raise ValidationError(
            "nextToken belongs to a listing with other filters or another order; ask with the same status, error "
            "codes, prefix and order, or start again without nextToken",
            "nextToken",
        )
    return Cursor(seq, key)


def key_bytes(key: str) -> bytes:
    """A key's bytes as stored: its UTF-8, a key that was not UTF-8 its original bytes (``surrogateescape``)."""
    return _bytes_of(key)


def prefix_end(prefix: bytes) -> bytes | None:
    """The least byte string above every string starting with ``prefix`` (None: there is none, all 0xFF)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _bytes_of(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decodes to: the store kept it escaped (outcomes.stored)
        return text.encode("utf-8", "backslashreplace")


#: A listing's parameters in a URL's query string (the API's and the console's).
QUERY_NAMES = ("status", "errorCode", "prefix", "order", "maxResults", "nextToken")


def parse_query_string(raw: str) -> TaskQuery:
    """A listing from a URL's raw query string: percent-escapes of bytes that are not UTF-8 are kept (as
    ``surrogateescape``), so a prefix of such a key reaches the store as sent. ``errorCode`` may repeat or hold
    several codes separated by commas."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
        if name in QUERY_NAMES:
            values.setdefault(name, []).append(value)

    def last(name: str) -> str | None:
        given = values.get(name)
        return given[-1] if given else None

    codes = tuple(code for value in values.get("errorCode", []) for code in value.split(",") if code)
    return task_query(last("status"), codes, last("prefix"), last("order"), last("maxResults"), last("nextToken"))


def task_query(
    status: str | None = None,
    error_codes: tuple[str, ...] = (),
    prefix: str | None = None,
    order: str | None = None,
    max_results: str | None = None,
    token: str | None = None,
) -> TaskQuery:
    """A listing as a request spells it (every value as sent, None when absent). ValidationError names the value
    that is wrong and what it takes."""
    return TaskQuery(
        status=_status(status),
        error_codes=_error_codes(error_codes),
        prefix=_bounded(prefix or "", "prefix"),
        order=_order(order),
        limit=_page_size(max_results),
        token=token or None,
    )


def _status(value: str | None) -> TaskStatus:
    if not value:
        return TaskStatus.FAILED
    for name, status in LISTED_STATUSES.items():
        if value.lower() == name.lower():
            return status
    raise ValidationError(f"status must be Failed or Succeeded, not {value!r}", "status")


def _error_codes(values: tuple[str, ...]) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(_bounded(code, "errorCode") for code in values if code))
    if len(codes) > MAX_ERROR_CODES:
        raise ValidationError(f"errorCode may be given at most {MAX_ERROR_CODES} times, not {len(codes)}", "errorCode")
    return codes


def _order(value: str | None) -> TaskOrder:
    if not value:
        return TaskOrder.NEWEST
    try:
        return TaskOrder(value.lower())
    except ValueError:
        raise ValidationError(f"order must be newest or key, not {value!r}", "order") from None


def _page_size(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_PAGE
    assert value is not None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ValidationError(f"maxResults must be a whole number from 1 to {MAX_PAGE}, not {value!r}", "maxResults")
    return int(text)


def _bounded(value: str, name: str) -> str:
    if len(_bytes_of(value)) > MAX_FILTER_BYTES:
        raise ValidationError(f"{name} must be at most {MAX_FILTER_BYTES} bytes of UTF-8", name)
    return value
