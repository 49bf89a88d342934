"""Tables, as SQLAlchemy Core metadata. Migrations (store/migrations) must produce exactly this."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Task counts and positions: 64-bit (a job may have billions of tasks). SQLite's INTEGER is 64-bit already (and
#: must stay INTEGER there); PostgreSQL's integer is 32-bit, so there these columns are BIGINT (migration 0008).
Count = BigInteger().with_variant(Integer(), "sqlite")


class ObjectName(TypeDecorator[Any]):
    """A task's bucket, key or version id: text, or the bytes of text that was not UTF-8 (store/outcomes.py).

    SQLite keeps either in a TEXT column. PostgreSQL text must be UTF-8 (and cannot hold NUL), so there the
    column is BYTEA (migration 0007) holding the UTF-8 bytes, read back as text (``surrogateescape``: what
    ``outcomes.loaded`` makes of SQLite's bytes)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "postgresql" else Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name != "postgresql" or not isinstance(value, str):
            return value
        return value.encode("utf-8")  # outcomes.stored: a str here is always valid UTF-8

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name != "postgresql" or value is None:
            return value
        return bytes(value).decode("utf-8", "surrogateescape")


#: PostgreSQL text cannot hold NUL: ``FreeText`` writes it (and itself) as this noncharacter and one more.
_ESCAPE = "\ufffe"


class FreeText(TypeDecorator[Any]):
    """Any text, NUL included: a task's error code or message (a message may echo a key), a listing's cursor.

    SQLite stores it as given. PostgreSQL text cannot hold NUL, so a value holding NUL (or starting with the
    escape) is stored as the escape, then itself with NUL written as escape + "0" and the escape doubled; read
    back exactly. Every other value is stored as given."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name != "postgresql" or not isinstance(value, str):
            return value
        if "\x00" not in value and not value.startswith(_ESCAPE):
            return value
        return _ESCAPE + value.replace(_ESCAPE, _ESCAPE * 2).replace("\x00", _ESCAPE + "0")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name != "postgresql" or not isinstance(value, str) or not value.startswith(_ESCAPE):
            return value
        return _ESCAPED.sub(lambda m: "\x00" if m[1] == "0" else _ESCAPE, value[1:])


_ESCAPED = re.compile(_ESCAPE + "(.)", re.DOTALL)


metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("client_request_token", String(64), nullable=False),
    Column("request_fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("spec", Text, nullable=False),  # JobSpec as JSON
    Column("tags", Text, nullable=False, default="[]"),
    Column("status_update_reason", Text),
    # Why a running job is holding without progress (store outage, disk full); null when it is not.
    Column("hold_reason", Text),
    # The job's rate caps now (migration 0012): null is no cap.
    Column("max_requests_per_second", Float),
    Column("max_tasks_in_flight", Integer),
    # Who paused a Pausing or Paused job (User, Preemption); null otherwise. The scheduler resumes only Preemption.
    Column("paused_by", String(16)),
    Column("failure_reasons", Text, nullable=False, default="[]"),
    Column("total_tasks", Count, nullable=False, default=0),
    Column("succeeded", Count, nullable=False, default=0),
    Column("failed", Count, nullable=False, default=0),
    # Preparing checkpoint: physical manifest lines already turned into tasks.
    Column("manifest_lines_read", Count, nullable=False, default=0),
    Column("manifest_done", Boolean, nullable=False, default=False),
    # Where a seekable manifest source (a bucket listing) resumes; opaque to the store, NUL included (a version
    # listing's cursor is key NUL version id).
    Column("manifest_cursor", FreeText),
    # GeneratedManifestDescriptor as JSON, once a generator job has saved its manifest.
    Column("generated_manifest", Text),
    Column("creation_time", Float, nullable=False),
    Column("termination_time", Float),
    Column("suspended_time", Float),
    Column("suspended_cause", Text),
    Column("active_seconds", Float, nullable=False, default=0.0),
    Column("active_since", Float),
    Column("updated_time", Float, nullable=False),
    UniqueConstraint("account_id", "client_request_token", name="uq_jobs_account_token"),
)
Index("ix_jobs_account_created", jobs.c.account_id, jobs.c.creation_time)
Index("ix_jobs_status", jobs.c.status)
# The console's status filter and priority sort (migration 0002).
Index("ix_jobs_account_status_created", jobs.c.account_id, jobs.c.status, jobs.c.creation_time)
Index("ix_jobs_account_priority", jobs.c.account_id, jobs.c.priority)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text),
)
Index("ix_job_events_job", job_events.c.job_id)

# One row per task that has ended: its outcome, inserted once (a second insert of the same seq is ignored).
# status: 1 succeeded, 2 failed (TaskStatus). A task without a row is pending: it is in its chunk's blob.
tasks = Table(
    "tasks",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("seq", Count, primary_key=True, autoincrement=False),
    Column("bucket", ObjectName, nullable=False),
    Column("key", ObjectName, nullable=False),
    Column("version_id", ObjectName),
    Column("status", SmallInteger, nullable=False, default=0),
    Column("error_code", FreeText),
    Column("http_status", Integer),
    Column("message", FreeText),
    sqlite_with_rowid=False,  # rows kept in (job_id, seq) order, in the primary key's b-tree (migration 0016)
)
Index("ix_tasks_job_status", tasks.c.job_id, tasks.c.status, tasks.c.seq)
# Listing a job's failures by error code (newest first) and by key (migration 0013): partial, on failed rows only,
# so recording a success (nearly every task) maintains no more index than before.
_FAILED = text("status = 2")
_ON_FAILED: dict[str, Any] = {"sqlite_where": _FAILED, "postgresql_where": _FAILED}
Index("ix_tasks_failed_code", tasks.c.job_id, tasks.c.error_code, tasks.c.seq, **_ON_FAILED)
Index("ix_tasks_failed_key", tasks.c.job_id, tasks.c.key, tasks.c.seq, **_ON_FAILED)

# Units of work a worker claims: tasks first_seq … first_seq + task_count - 1, their manifest rows in
# ``data`` (one zlib blob, batchops.manifests.chunks). A chunk is done when each of its tasks has an outcome.
chunks = Table(
    "chunks",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("chunk_no", Count, primary_key=True, autoincrement=False),
    Column("done", Boolean, nullable=False, default=False),
    Column("lease_owner", String(64)),
    Column("lease_expires", Float),
    Column("first_seq", Count, nullable=False, server_default="0"),
    Column("task_count", Count, nullable=False, server_default="0"),
    Column("data", LargeBinary, nullable=False, server_default=text("x''")),
)
Index("ix_chunks_claim", chunks.c.job_id, chunks.c.done, chunks.c.chunk_no)

# Locks on names (a replica's key) that tasks in any process take one at a time (migration 0009): the holder
# writes its owner token and an expiry it renews; a row past its expiry is taken over, so a dead holder never
# blocks for ever. ``name`` is the SHA-256 of the lock's name (keys may be 1 KiB and not UTF-8).
key_locks = Table(
    "key_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("expires", Float, nullable=False),
)
Index("ix_key_locks_job", key_locks.c.job_id)

# A retry job's link to the job whose failed tasks it runs again (migration 0011): DescribeJob shows both ways.
job_retries = Table(
    "job_retries",
    metadata,
    Column("job_id", String(64), primary_key=True),  # the retry
    Column("parent_id", String(64), nullable=False),  # the job retried
    Column("created_at", Float, nullable=False),
)
Index("ix_job_retries_parent", job_retries.c.parent_id)

# Webhook notifications (migration 0014): an outbox row per job status move, written in the move's transaction so
# none is lost and none holds the job up; the notifier POSTs due rows, a job's in order (its oldest pending first).
# Pending: neither delivered_at nor gave_up_at. ``next_attempt_at`` doubles as a claim (a sender pushes it ahead
# before POSTing, so two servers never send the same row at once).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # the job status the event reports
    Column("body", Text, nullable=False),  # the JSON POSTed, signed as is
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_http_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", Float),
    Column("gave_up_at", Float),
)
Index("ix_webhook_deliveries_job", webhook_deliveries.c.job_id, webhook_deliveries.c.id)
# Pending rows first (both null), by when they are due: delivered ones, which stay, are never scanned for work.
Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.delivered_at,
    webhook_deliveries.c.gave_up_at,
    webhook_deliveries.c.next_attempt_at,
)

# Each POST of a delivery (DescribeJob's BatchOpsWebhookDeliveries, the console): the receiver's status or why none.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("http_status", Integer),
    Column("error", Text),
    Column("delivered", Boolean, nullable=False),
)
Index("ix_webhook_attempts_job", webhook_attempts.c.job_id, webhook_attempts.c.id)

# A job's progress over time (migration 0015): its cumulative ended tasks, sampled every few seconds by the
# supervisor while it runs and once at its end; the console draws tasks/s from them. At most
# ``domain.throughput.MAX_SAMPLES`` rows per job (older ones thinned), purged with the job.
progress_samples = Table(
    "progress_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("succeeded", Count, nullable=False),
    Column("failed", Count, nullable=False),
)
Index("ix_progress_samples_job", progress_samples.c.job_id, progress_samples.c.at)

# Console sessions that are signed in: the cookie carries the id; logout deletes the row, so a copied cookie
# ends with its session (migration 0006). Rows older than the session lifetime are purged at sign-in.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)
