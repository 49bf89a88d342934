"""``batchops.Client``: a small Python client for a batchops server, used by the CLI and the tests.

It wraps boto3's ``s3control`` client (so every request is SigV4-signed like any AWS SDK call) and, for
manifest uploads and reports, a boto3 ``s3`` client on the object store::

    from batchops import Client

    client = Client("http://127.0.0.1:8080", "123456789012", "AKIA…", "secret",
                    s3_endpoint="http://127.0.0.1:8333")
    job_id = client.create_job(
        operation={"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "x"}]}},
        manifest_file="objects.csv", manifest_bucket="manifests",
        report_bucket="reports",
    )
    job = client.wait(job_id, on_progress=lambda job: print(job["ProgressSummary"]))
    print(job["Status"], client.report(job_id).rows[:3])

Jobs are the dicts boto3 returns (``describe_job()["Job"]``, ``list_jobs()["Jobs"]`` members). Every failure
is a ``batchops.client.ClientError`` (``ServerUnreachable``, ``CredentialsRefused``, ``RequestRefused``) whose
message is one line saying what went wrong and what to do.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config

from batchops import jobfile
from batchops.aws_hooks import boto3_hook
from batchops.domain import status as domain_status
from batchops.errors import ClientError, CredentialsRefused, RequestRefused, ServerUnreachable
from batchops.reports.reader import ReportLocation, named_row, read_report
from batchops.tenancy import ACCOUNT_ID_PATTERN

__all__ = [
    "TERMINAL",
    "Applied",
    "Client",
    "ClientError",
    "CredentialsRefused",
    "JobReport",
    "RequestRefused",
    "ServerUnreachable",
]

#: Statuses a job never leaves, as the API writes them.
TERMINAL = frozenset(status.value for status in domain_status.TERMINAL)
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
_CREDENTIAL_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "InvalidSignature"}
)


@dataclass(frozen=True)
class JobReport:
    """A job's completion report: its ``manifest.json`` and every result row (``reports.reader.named_row``)."""

    manifest: dict[str, Any]
    rows: list[dict[str, str]] = field(default_factory=list)

    def outcome_counts(self) -> dict[str, int]:
        """The rows by outcome: ``succeeded``, and each failed row under its error code (a dry run's summary)."""
        return dict(Counter(_outcome(row) for row in self.rows))


def _outcome(row: dict[str, str]) -> str:
    if row.get("TaskStatus") == "failed":
        return row.get("ErrorCode") or "failed"
    return "succeeded"


@dataclass(frozen=True)
class Applied:
    """What ``Client.apply`` did: the job's id (None on a dry run), whether this call created it (False: an
    earlier apply of the same file did; None: a server without the ``x-batchops-created`` header does not say),
    the file's ClientRequestToken and the ``create_job`` arguments."""

    job_id: str | None
    created: bool | None
    token: str
    request: dict[str, Any]


class Client:
    """One account on one batchops server (and, for uploads and reports, its object store)."""

    #: Whether this client's last ``create_job`` made a new job (False: its ClientRequestToken's earlier job came
    #: back; None: not known, an older server does not say). One per client: share none across threads for it.
    last_created: bool | None = None

    def __init__(
        self,
        url: str,
        account_id: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        s3_endpoint: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account_id = _checked_account(account_id)
        self.s3_endpoint = s3_endpoint
        session = boto3_hook(
            boto3.session.Session(
                aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
            )
        )
        config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=30)
        s3_config = config.merge(Config(s3={"addressing_style": "path"}))
        try:
            self._control = session.client("s3control", endpoint_url=self.url, config=config)
            self._s3 = session.client("s3", endpoint_url=s3_endpoint, config=s3_config)
        except ValueError as exc:  # botocore: "Invalid endpoint: …"
            raise ClientError(
                f"{exc}; give the server URL (--url) and the store's endpoint (--s3-endpoint) as http(s)://host:port"
            ) from None

    # --- jobs ---------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        operation: Mapping[str, Any],
        manifest_arn: str | None = None,
        manifest_etag: str | None = None,
        manifest_file: str | Path | None = None,
        manifest_bucket: str | None = None,
        manifest_key: str | None = None,
        manifest_fields: Sequence[str] = ("Bucket", "Key"),
        priority: int = 10,
        description: str | None = None,
        role_arn: str | None = None,
        confirmation_required: bool = False,
        report_bucket: str | None = None,
        report_prefix: str | None = None,
        report_scope: str = "AllTasks",
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
        max_requests_per_second: float | None = None,
        max_tasks_in_flight: int | None = None,
        then: Sequence[Mapping[str, Any]] = (),
        dry_run: bool = False,
        failure_threshold: Mapping[str, Any] | None = None,
        manifest_generator: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> str:
        """Create a job; returns its id (``last_created`` says whether it is new or its token's earlier job).

        ``then`` makes it a chain: operations (as ``operation``) run in turn, each as a new job over the tasks the
        step before it succeeded on, once that step completes (``describe_job(id)["BatchOpsChain"]`` shows where).

        ``dry_run`` checks every task without changing anything: the job's report says what each task would do
        (``report(job_id).outcome_counts()`` sums it up).

        ``max_requests_per_second`` and ``max_tasks_in_flight`` cap how hard its tasks press the store
        (``update_rate`` changes them while it runs).

        ``webhook_url`` and ``webhook_secret`` (both or neither): each of the job's status changes is POSTed there,
        signed with the secret (check it with ``batchops.webhooks.verify``); ``describe_job(id)`` lists the
        attempts under ``BatchOpsWebhookDeliveries`` and shows the URL, never the secret.

        The manifest is either an object already in the store (``manifest_arn``; its ETag is looked up when
        ``manifest_etag`` is not given) or a local CSV file uploaded first to ``manifest_bucket``.
        No ``report_bucket`` means no completion report. ``manifest_generator`` (an ``S3JobManifestGenerator`` as
        boto3 takes it) lists a bucket instead of a manifest; ``failure_threshold`` (``{"MinTasks": 100,
        "Percent": 10}``) replaces the server's default.
        """
        if manifest_generator is not None:
            manifest: dict[str, Any] = {"ManifestGenerator": {"S3JobManifestGenerator": dict(manifest_generator)}}
        else:
            manifest = {
                "Manifest": self._manifest(
                    manifest_arn, manifest_etag, manifest_fields, manifest_file, manifest_bucket, manifest_key
                )
            }
        request: dict[str, Any] = {
            "AccountId": self.account_id,
            "ConfirmationRequired": confirmation_required,
            "Operation": dict(operation),
            **manifest,
            "Report": _report(report_bucket, report_prefix, report_scope),
            "Priority": priority,
            "RoleArn": role_arn or f"arn:aws:iam::{self.account_id}:role/batchops",
            "ClientRequestToken": client_request_token or str(uuid.uuid4()),
        }
        if description:
            request["Description"] = description
        if tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        request.update(_rate_caps(max_requests_per_second, max_tasks_in_flight))
        if then:
            request["BatchOpsThen"] = [dict(step) for step in then]
        if dry_run:
            request["BatchOpsDryRun"] = True
        if failure_threshold:
            request["BatchOpsFailureThreshold"] = dict(failure_threshold)
        request.update(_webhook(webhook_url, webhook_secret))
        with self._calling("the batchops server"):
            answer = self._control.create_job(**request)
        self.last_created = _created(answer)
        return str(answer["JobId"])

    def _manifest(
        self,
        arn: str | None,
        etag: str | None,
        fields: Sequence[str],
        file: str | Path | None,
        bucket: str | None,
        key: str | None,
    ) -> dict[str, Any]:
        """CreateJob's ``Manifest``: an object in the store, or a local CSV file uploaded first."""
        if file is not None:
            if not bucket:
                raise RequestRefused("give the bucket to upload the manifest file to (manifest_bucket)")
            arn, etag = self.upload_manifest(file, bucket, key)
        if not arn:
            raise RequestRefused("give a manifest: an object ARN (manifest_arn) or a local CSV file (manifest_file)")
        return {
            "Spec": {"Format": MANIFEST_FORMAT, "Fields": list(fields)},
            "Location": {"ObjectArn": arn, "ETag": etag or self.manifest_etag(arn)},
        }

    def apply(self, source: str | Path, variables: Mapping[str, str] | None = None, dry_run: bool = False) -> Applied:
        """Create the job a YAML job file describes (``batchops.jobfile``; README, "Jobs as code"), once: its
        ClientRequestToken comes from the file's content, so applying it again returns the same job.

        ``source`` is a path or the YAML text; ``${NAME}`` takes ``variables``, else the environment. With
        ``dry_run`` the file is only checked: nothing is uploaded or created, and the answer's ``request`` is
        what ``create_job`` would be called with.
        """
        loaded = jobfile.load(source, variables, accepts=_create_job_parameters())
        if loaded.account is not None and loaded.account != self.account_id:
            raise jobfile.JobFileError(
                f"{loaded.source}: account: the file is for account {loaded.account}, you connect as "
                f"{self.account_id}; pass --account-id {loaded.account} (or change account: in the file)"
            )
        if dry_run:
            return Applied(None, False, loaded.token, loaded.create_arguments)
        job_id = self.create_job(**loaded.create_arguments)
        return Applied(job_id, self.last_created, loaded.token, loaded.create_arguments)

    def list_jobs(self, statuses: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every job of the last 90 days (all pages), newest first; only ``statuses`` when given."""
        arguments: dict[str, Any] = {"AccountId": self.account_id}
        if statuses:
            arguments["JobStatuses"] = list(statuses)
        jobs: list[dict[str, Any]] = []
        with self._calling("the batchops server"):
            while True:
                page = self._control.list_jobs(**arguments)
                jobs += page.get("Jobs", [])
                if not page.get("NextToken"):
                    return jobs
                arguments["NextToken"] = page["NextToken"]

    def describe_job(self, job_id: str) -> dict[str, Any]:
        with self._calling("the batchops server"):
            return dict(self._control.describe_job(AccountId=self.account_id, JobId=job_id)["Job"])

    def update_priority(self, job_id: str, priority: int) -> int:
        with self._calling("the batchops server"):
            answer = self._control.update_job_priority(AccountId=self.account_id, JobId=job_id, Priority=priority)
        return int(answer["Priority"])

    def update_rate(
        self,
        job_id: str,
        max_requests_per_second: float | str | None = None,
        max_tasks_in_flight: int | str | None = None,
    ) -> dict[str, Any]:
        """Change a job's rate caps while it runs (None: that cap unchanged; ``"none"``: no cap). Returns the
        caps now: ``{"MaxRequestsPerSecond": float | None, "MaxTasksInFlight": int | None}``."""
        arguments: dict[str, Any] = {"AccountId": self.account_id, "JobId": job_id}
        if max_requests_per_second is not None:
            arguments["MaxRequestsPerSecond"] = str(max_requests_per_second)
        if max_tasks_in_flight is not None:
            arguments["MaxTasksInFlight"] = str(max_tasks_in_flight)
        with self._calling("the batchops server"):
            answer = self._control.update_job_rate(**arguments)
        return {
            "MaxRequestsPerSecond": answer.get("BatchOpsMaxRequestsPerSecond"),
            "MaxTasksInFlight": answer.get("BatchOpsMaxTasksInFlight"),
        }

    def update_status(self, job_id: str, requested: str, reason: str | None = None) -> str:
        """``requested`` is ``Ready`` (confirm a Suspended job, resume a Paused one), ``Paused`` or ``Cancelled``;
        returns the job's new status."""
        arguments: dict[str, Any] = {"AccountId": self.account_id, "JobId": job_id, "RequestedJobStatus": requested}
        if reason:
            arguments["StatusUpdateReason"] = reason
        with self._calling("the batchops server"):
            return str(self._control.update_job_status(**arguments)["Status"])

    def retry_job(
        self, job_id: str, error_codes: Sequence[str] = (), client_request_token: str | None = None
    ) -> str:
        """A new job over the finished job's failed tasks (only those with ``error_codes`` when given), with the
        same operation and settings; returns its id. The same ``client_request_token`` retries once."""
        arguments: dict[str, Any] = {
            "AccountId": self.account_id,
            "JobId": job_id,
            "ClientRequestToken": client_request_token or str(uuid.uuid4()),
        }
        if error_codes:
            arguments["ErrorCodes"] = list(error_codes)
        with self._calling("the batchops server"):
            return str(self._control.batch_ops_retry_job(**arguments)["JobId"])

    def tasks(
        self,
        job_id: str,
        status: str = "Failed",
        error_codes: Sequence[str] = (),
        prefix: str | None = None,
        order: str = "newest",
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """The job's ended tasks, ``Failed`` (the default) or ``Succeeded``, only those with one of ``error_codes``
        and a key starting with ``prefix`` when given; ``newest`` first or by ``key``. A lazy iterator over every
        page (``page_size`` tasks a request), while the job runs or after. Each task is a dict: ``TaskIndex``,
        ``Bucket``, ``Key``, ``VersionId`` (None if none), ``Status``, ``ErrorCode``, ``HttpStatus``,
        ``ResultMessage``; names exactly as in the manifest (the wire's URL-encoding undone)."""
        arguments: dict[str, Any] = {
            "AccountId": self.account_id,
            "JobId": job_id,
            "Status": status,
            "Order": order,
            "MaxResults": page_size,
        }
        if error_codes:
            arguments["ErrorCodes"] = list(error_codes)
        if prefix:
            arguments["Prefix"] = prefix
        while True:
            with self._calling("the batchops server"):
                page = self._control.batch_ops_list_job_tasks(**arguments)
            yield from (_listed_task(task) for task in page.get("Tasks", []))
            if not page.get("NextToken"):
                return
            arguments["NextToken"] = page["NextToken"]

    def task_counts(self, job_id: str) -> dict[str, Any]:
        """The job's ended tasks now: ``{"Succeeded": n, "Failed": n, "ByErrorCode": {code: n, …}}`` (most first)."""
        with self._calling("the batchops server"):
            page = self._control.batch_ops_list_job_tasks(AccountId=self.account_id, JobId=job_id, MaxResults=1)
        by_code = {str(count["ErrorCode"]): int(count["Count"]) for count in page.get("ErrorCodeCounts", [])}
        return {
            "Succeeded": int(page.get("NumberOfTasksSucceeded", 0)),
            "Failed": int(page.get("NumberOfTasksFailed", 0)),
            "ByErrorCode": by_code,
        }

    def confirm(self, job_id: str, reason: str | None = None) -> str:
        return self.update_status(job_id, "Ready", reason)

    def cancel(self, job_id: str, reason: str | None = None) -> str:
        return self.update_status(job_id, "Cancelled", reason)

    def pause_job(self, job_id: str, reason: str | None = None) -> str:
        """Pause a running or waiting job until ``resume_job``: Pausing (its running tasks finish) or Paused."""
        return self.update_status(job_id, "Paused", reason)

    def resume_job(self, job_id: str, reason: str | None = None) -> str:
        """Resume a Paused job: Ready, then Active when a slot is free."""
        return self.update_status(job_id, "Ready", reason)

    def wait(
        self,
        job_id: str,
        *,
        interval: float = 1.0,
        timeout: float | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is Complete, Cancelled or Failed, or first shows status ``until``; returns it.

        ``on_progress`` sees every poll. With ``until`` (e.g. ``"Suspended"``: its manifest is read and it waits
        for confirmation), a job that ends without passing through that status is returned as it ended.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.describe_job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["Status"] in TERMINAL or job["Status"] == until:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise ClientError(f"job {job_id} is still {job['Status']} after {timeout:g} s; wait longer or check it")
            time.sleep(interval)

    # --- manifests and reports ----------------------------------------------------------------

    def upload_manifest(self, path: str | Path, bucket: str, key: str | None = None) -> tuple[str, str]:
        """Put a local CSV manifest into ``bucket``; returns (object ARN, ETag)."""
        source = Path(path)
        if not source.is_file():
            raise RequestRefused(f"manifest file {source} does not exist or is not a file")
        key = key or f"manifests/{uuid.uuid4().hex}-{source.name}"
        with self._calling("the object store", bucket):
            etag = self._s3.put_object(Bucket=bucket, Key=key, Body=source.read_bytes())["ETag"]
        return f"arn:aws:s3:::{bucket}/{key}", str(etag)

    def manifest_etag(self, manifest_arn: str) -> str:
        bucket, _, key = manifest_arn.removeprefix("arn:aws:s3:::").partition("/")
        if not key:
            raise RequestRefused(f"{manifest_arn!r} is not an object ARN like arn:aws:s3:::bucket/manifest.csv")
        with self._calling("the object store", bucket):
            return str(self._s3.head_object(Bucket=bucket, Key=key)["ETag"])

    def report(self, job_id: str) -> JobReport:
        """Read a finished job's completion report (manifest.json and every result file) from the store."""
        job = self.describe_job(job_id)
        report = job.get("Report") or {}
        if not report.get("Enabled"):
            raise RequestRefused(f"job {job_id} has no completion report: it was created without one")
        if job["Status"] not in TERMINAL:
            raise RequestRefused(
                f"job {job_id} is {job['Status']}; its report is written when it ends (batchops job wait {job_id})"
            )
        bucket = str(report["Bucket"]).split(":::", 1)[-1]
        written = read_report(self._read, ReportLocation.of(bucket, report.get("Prefix"), job_id))
        return JobReport(written.index.document, [named_row(values) for values in written.rows])

    def _read(self, bucket: str, key: str) -> bytes:
        with self._calling("the object store", bucket):
            return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    # --- errors -------------------------------------------------------------------------------

    @contextmanager
    def _calling(self, what: str, bucket: str | None = None) -> Iterator[None]:
        """Turn whatever boto3 raises into one ClientError with a one-line message."""
        try:
            yield
        except ClientError:
            raise
        except boto_errors.NoCredentialsError:
            raise CredentialsRefused(
                "no credentials: pass --access-key-id and --secret-access-key "
                "(or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from None
        except (boto_errors.EndpointConnectionError, boto_errors.ConnectTimeoutError) as exc:
            raise self._unreachable(what, exc) from None
        except boto_errors.ClientError as exc:
            raise self._refused(what, bucket, exc) from None
        except boto_errors.ParamValidationError as exc:
            raise RequestRefused(_one_line(str(exc))) from None
        except boto_errors.BotoCoreError as exc:
            raise ClientError(f"{what} could not be reached or understood: {_one_line(str(exc))}") from None

    def _unreachable(self, what: str, exc: Exception) -> ServerUnreachable:
        if what == "the object store":
            return ServerUnreachable(
                f"cannot reach the object store at {self.s3_endpoint or 'the AWS default endpoint'}: "
                "check --s3-endpoint (or BATCHOPS_S3_ENDPOINT)"
            )
        return ServerUnreachable(
            f"cannot reach the batchops server at {self.url}: start it with `batchops server` "
            "or point --url (or BATCHOPS_URL) at a running one"
        )

    def _refused(self, what: str, bucket: str | None, exc: boto_errors.ClientError) -> ClientError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = _one_line(str(error.get("Message") or code))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _CREDENTIAL_CODES or status == 403:
            return CredentialsRefused(
                f"{what} refused the credentials ({code}: {message}); check --account-id {self.account_id}, "
                "--access-key-id and --secret-access-key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
            )
        if code == "NoSuchBucket" and bucket:
            return RequestRefused(f"bucket {bucket} does not exist in the object store; create it first", code)
        if code in ("NoSuchKey", "404", "NotFound") and bucket:
            return RequestRefused(f"{what} has no such object in bucket {bucket}, or no such bucket ({code})", code)
        # The server's own words, every code alike (they name what is wrong and how to fix it): the CLI prints
        # every refusal the same way. The code stays in ``.code``.
        return RequestRefused(message, code)


def _listed_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task of ``batch_ops_list_job_tasks`` with its names decoded (bytes that were not UTF-8 kept as
    ``surrogateescape``, as the server read them from the manifest)."""
    version = task.get("VersionId")
    return {
        "TaskIndex": int(task.get("TaskIndex", 0)),
        "Bucket": unquote(str(task.get("Bucket", "")), errors="surrogateescape"),
        "Key": unquote(str(task.get("Key", "")), errors="surrogateescape"),
        "VersionId": None if version is None else unquote(str(version), errors="surrogateescape"),
        "Status": str(task.get("Status", "")),
        "ErrorCode": str(task.get("ErrorCode", "")),
        "HttpStatus": int(task.get("HttpStatus", 0)),
        "ResultMessage": str(task.get("ResultMessage", "")),
    }


def _checked_account(account_id: str) -> str:
    # Checked here, not left to the server: boto3 puts the account id in front of the host name, so a
    # malformed one would fail as an unreachable server.
    if not ACCOUNT_ID_PATTERN.match(account_id or ""):
        raise RequestRefused(
            f"account id {account_id!r} is not 12 digits: give your 12-digit account id, e.g. 123456789012 "
            "(--account-id or BATCHOPS_ACCOUNT_ID)",
            "InvalidAccountId",
        )
    return account_id


def _report(bucket: str | None, prefix: str | None, scope: str) -> dict[str, Any]:
    if not bucket:
        return {"Enabled": False}
    report: dict[str, Any] = {
        "Enabled": True,
        "Bucket": bucket if bucket.startswith("arn:") else f"arn:aws:s3:::{bucket}",
        "Format": "Report_CSV_20180820",
        "ReportScope": scope,
    }
    if prefix:
        report["Prefix"] = prefix
    return report


#: The CreateJob response header saying whether the job is new ("true") or a replayed token's ("false").
CREATED_HEADER = "x-batchops-created"


def _created(answer: Mapping[str, Any]) -> bool | None:
    said = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(CREATED_HEADER)
    return None if said is None else said == "true"


def _create_job_parameters() -> frozenset[str]:
    return frozenset(inspect.signature(Client.create_job).parameters)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _webhook(url: str | None, secret: str | None) -> dict[str, Any]:
    """CreateJob's ``BatchOpsWebhook`` (none without a URL); a URL needs its secret and a secret its URL."""
    if url is None and secret is None:
        return {}
    if not url or not secret:
        raise RequestRefused("give both webhook_url and webhook_secret (the receiver checks signatures with it)")
    return {"BatchOpsWebhook": {"Url": url, "Secret": secret}}


def _rate_caps(requests: float | None, tasks: int | None) -> dict[str, Any]:
    """CreateJob's rate cap elements (batchops extensions), only those given."""
    caps: dict[str, Any] = {}
    if requests is not None:
        caps["BatchOpsMaxRequestsPerSecond"] = requests
    if tasks is not None:
        caps["BatchOpsMaxTasksInFlight"] = tasks
    return caps
