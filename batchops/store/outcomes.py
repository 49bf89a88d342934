"""A task outcome as a ``tasks`` row SQLite can always store, whatever the task's key or message holds.

SQLite text must be UTF-8. A manifest line that was not UTF-8 is decoded with ``surrogateescape``, so its key
holds lone surrogates (U+DC80 to U+DCFF, one per byte that was not UTF-8), and so may an error message that
echoes it: binding such a string raises ``UnicodeEncodeError``, which would drop the whole flush. So:

* a message or error code that is not UTF-8 is stored with its surrogates written as ``\\udcff`` escapes;
* an outcome whose bucket, key or version id is not UTF-8 becomes a failed row, code ``KeyNotUTF8``, whose
  message also says how the task itself ended (a manifest row that names no object has failed already, and
  keeps its own code);
* such a key (or raw manifest line) is stored as its original bytes (a BLOB: SQLite keeps each value's own
  type in any column), and read back with ``surrogateescape``, so the report shows those bytes URL-encoded,
  like any other key.
"""

from __future__ import annotations

from collections.abc import Sequence

from batchops.domain.task import ReportRow, TaskOutcome, TaskStatus

#: The error code of an outcome recorded as failed because its object names something that is not UTF-8.
KEY_NOT_UTF8 = "KeyNotUTF8"

#: A stored identity value: text, or the bytes of text that was not UTF-8.
Stored = str | bytes
#: (job_id, seq, bucket, key, version_id, status, error_code, http_status, message), as ``tasks`` takes them.
OutcomeRow = tuple[str, int, Stored, Stored, Stored | None, int, str | None, int, str | None]
#: Where an outcome row holds its status.
STATUS = 5


def outcome_rows(job_id: str, outcomes: Sequence[TaskOutcome]) -> list[OutcomeRow]:
    return [outcome_row(job_id, outcome) for outcome in outcomes]


def outcome_row(job_id: str, o: TaskOutcome) -> OutcomeRow:
    target = o.target
    bucket, key, version = (target.bucket, target.key, target.version_id) if target else ("", o.raw, None)
    if is_utf8(bucket) and is_utf8(key) and (version is None or is_utf8(version)):
        return (job_id, o.seq, bucket, key, version, int(o.status), text(o.error_code), o.http_status, text(o.message))
    if target is None:  # a row that names no object has failed already, and its message says why
        return (job_id, o.seq, "", stored(key), None, int(o.status), text(o.error_code), o.http_status, text(o.message))
    kept_version = None if version is None else stored(version)
    failed = int(TaskStatus.FAILED)
    return (job_id, o.seq, stored(bucket), stored(key), kept_version, failed, KEY_NOT_UTF8, 400, _not_utf8_message(o))


def is_utf8(value: str) -> bool:
    if value.isascii():  # nearly every key: no encoding attempt at all
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(value: str) -> str | None:
    """Free text (message, error code) as storable text; None for empty."""
    if not value:
        return None
    return value if is_utf8(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")


def stored(value: str) -> Stored:
    """An identity value as it can be stored: itself, or its original bytes when it is not UTF-8."""
    if is_utf8(value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decodes to (U+D800 to U+DC7F): escaped, readable text
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def loaded(value: Stored | None) -> str:
    """A stored identity value read back: bytes (text that was not UTF-8) become its surrogateescape string."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value or ""


def report_row(
    bucket: Stored,
    key: Stored,
    version_id: Stored | None,
    status: int,
    error_code: str | None,
    http_status: int | None,
    message: str | None,
) -> ReportRow:
    """A stored outcome as the report (and the console's recent failures) show it."""
    version = None if version_id is None else loaded(version_id)
    return ReportRow(
        loaded(bucket), loaded(key), version, TaskStatus(status), error_code or "", http_status or 0, message or ""
    )


def _not_utf8_message(o: TaskOutcome) -> str:
    ended = f"{o.status.name.lower()} ({o.http_status}{' ' + o.error_code if o.error_code else ''})"
    said = f": {o.message}" if o.message else ""
    own = f"{ended}{said}".encode("utf-8", "backslashreplace").decode("utf-8")
    return (
        "the object's key (or bucket or version id) in the manifest is not valid UTF-8, so this task is reported "
        f"failed (the report shows the key's bytes URL-encoded); the task itself ended {own}. "
        "Write the manifest in UTF-8 and run this row again"
    )
