"""The job record and its parts, as plain frozen dataclasses (no wire format, no storage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batchops.domain.status import JobStatus, PausedBy

#: A job's priority (CreateJob, UpdateJobPriority, the console, the CLI): higher runs first.
MIN_PRIORITY = 0
MAX_PRIORITY = 2_147_483_647
#: A job's rate caps (``BatchOpsMaxRequestsPerSecond``, ``BatchOpsMaxTasksInFlight``) lie within these bounds.
MAX_REQUESTS_PER_SECOND_CAP = 1_000_000
MAX_TASKS_IN_FLIGHT_CAP = 100_000


@dataclass(frozen=True)
class ManifestLocation:
    object_arn: str
    etag: str
    object_version_id: str | None = None


@dataclass(frozen=True)
class ManifestSpec:
    format: str  # e.g. S3BatchOperations_CSV_20180820
    fields: tuple[str, ...]  # column meaning, e.g. ("Bucket", "Key")
    location: ManifestLocation


@dataclass(frozen=True)
class GeneratorFilter:
    """Which listed objects a generated manifest keeps (``JobManifestGeneratorFilter``); empty keeps all."""

    created_after: str | None = None  # ISO-8601 UTC: keep objects last modified strictly after
    created_before: str | None = None  # ... strictly before
    match_any_prefix: tuple[str, ...] = ()
    match_any_suffix: tuple[str, ...] = ()
    match_any_substring: tuple[str, ...] = ()
    size_greater_than: int | None = None  # bytes, exclusive
    size_less_than: int | None = None  # bytes, exclusive
    storage_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManifestOutputSpec:
    """Where a generated manifest is saved (``S3ManifestOutputLocation``)."""

    bucket: str  # bucket ARN
    format: str  # S3InventoryReport_CSV_20211130
    prefix: str | None = None
    expected_bucket_owner: str | None = None
    encryption: str | None = None  # SSE-S3 | SSE-KMS
    kms_key_id: str | None = None


@dataclass(frozen=True)
class GeneratorSpec:
    """A manifest built from a bucket listing (``S3JobManifestGenerator``)."""

    source_bucket: str  # bucket ARN
    enable_manifest_output: bool
    expected_bucket_owner: str | None = None
    output: ManifestOutputSpec | None = None
    filter: GeneratorFilter = field(default_factory=GeneratorFilter)
    include_all_versions: bool = False  # our extension: list every version, not only the current ones


@dataclass(frozen=True)
class GeneratedManifest:
    """The manifest a generator job saved (``GeneratedManifestDescriptor``)."""

    format: str
    object_arn: str  # the manifest.json
    etag: str


@dataclass(frozen=True)
class ReportSpec:
    enabled: bool
    bucket: str | None = None  # bucket ARN, e.g. arn:aws:s3:::reports
    format: str | None = None  # Report_CSV_20180820
    prefix: str | None = None
    scope: str | None = None  # AllTasks | FailedTasksOnly
    expected_bucket_owner: str | None = None


@dataclass(frozen=True)
class OperationSpec:
    """One operation: its wire name, validated parameters, and the request XML to echo in DescribeJob."""

    name: str
    params: dict[str, Any]
    xml: str


@dataclass(frozen=True)
class FailureThreshold:
    """Fail the job once more than ``min_tasks`` tasks have run and more than ``percent`` % of them failed."""

    min_tasks: int = 1000
    percent: float = 50.0

    def exceeded(self, succeeded: int, failed: int) -> bool:
        ran = succeeded + failed
        return ran > self.min_tasks and failed * 100 > self.percent * ran


@dataclass(frozen=True)
class RateCaps:
    """How hard a job may press its store: S3 requests per second and tasks in flight (None: no cap)."""

    max_requests_per_second: float | None = None
    max_tasks_in_flight: int | None = None

    @property
    def empty(self) -> bool:
        return self.max_requests_per_second is None and self.max_tasks_in_flight is None


@dataclass(frozen=True)
class WebhookTarget:
    """Where a job's events are POSTed (``BatchOpsWebhook``) and the secret that signs them: never shown back,
    nor in a repr that a log line might print."""

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ChainLink:
    """Where a chain's later step stands: the chain's first job, the step before it, and its place (2, 3, ...)."""

    root_id: str
    parent_id: str
    step: int


@dataclass(frozen=True)
class JobSpec:
    """Everything a CreateJob request fixes about a job."""

    client_request_token: str
    priority: int
    role_arn: str
    manifest: ManifestSpec | None  # exactly one of manifest and generator is set
    operation: OperationSpec
    report: ReportSpec
    confirmation_required: bool = False
    description: str = ""
    threshold: FailureThreshold = field(default_factory=FailureThreshold)
    generator: GeneratorSpec | None = None
    #: The caps CreateJob set (the job's current caps are ``Job.rate``: they may change while it runs).
    rate: RateCaps = field(default_factory=RateCaps)
    #: The chain's steps after this job (``BatchOpsThen``): when it completes, the first runs over its succeeded
    #: tasks as a new job, which carries the rest.
    then: tuple[OperationSpec, ...] = ()
    #: Set on a chain's later steps: the job before it, and the chain's first (None: not a later step).
    chain: ChainLink | None = None
    #: Check every task (HEAD the object, the operation's preconditions) and change nothing but the report.
    dry_run: bool = False
    #: Where this job's status moves are POSTed, signed (``BatchOpsWebhook``); None: the account's, if any.
    webhook: WebhookTarget | None = None

    def failed_too_often(self, succeeded: int, failed: int) -> bool:
        """Past the failure threshold: the job fails. Never for a dry run, whose failures are what it is for: it
        checks every task and ends Complete."""
        return not self.dry_run and self.threshold.exceeded(succeeded, failed)


@dataclass(frozen=True)
class FailureReason:
    code: str
    reason: str


@dataclass(frozen=True)
class Progress:
    total: int
    succeeded: int
    failed: int
    elapsed_active_seconds: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True)
class Job:
    id: str
    account_id: str
    spec: JobSpec
    status: JobStatus
    priority: int
    creation_time: datetime
    progress: Progress
    status_update_reason: str | None = None
    termination_time: datetime | None = None
    suspended_time: datetime | None = None
    suspended_cause: str | None = None
    failure_reasons: tuple[FailureReason, ...] = ()
    manifest_done: bool = False
    generated_manifest: GeneratedManifest | None = None
    #: Why the job is holding without progress (the object store unreachable, the disk full), or None.
    hold_reason: str | None = None
    #: The job's rate caps now (set at CreateJob, changed by UpdateJobRate).
    rate: RateCaps = field(default_factory=RateCaps)
    #: Who paused the job, while it is Pausing or Paused (None: the scheduler, before this was recorded).
    paused_by: PausedBy | None = None
