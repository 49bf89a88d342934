"""CreateJob's check that a job's report can be written, before any task changes an object.

Without it a job whose report bucket is missing or not writable runs every task and only then ends
Failed ``ReportWriteFailed``. The check uses the job's role's store and keys (``s3/resolver.py``) and the
report writer's own call, in three small round trips: HeadBucket (the bucket exists: it must come first, as
SeaweedFS creates a missing bucket on PutObject), an empty marker put under the report prefix (``put_bytes``,
as the writer puts its files: proves the role may write there) and its DeleteObject (the bucket is left as it
was; a role that may put but not delete keeps one empty object under a fixed name).

A write proven is remembered for ``PROVEN_SECONDS`` (``ProvenWrites``): a tenant creating jobs in a burst, each
with the same report bucket and prefix, pays the three round trips once, not per job. Only success is
remembered; a refusal is asked again each time, and a report that cannot be written at the end still fails its
job ``ReportWriteFailed``.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

from botocore.exceptions import BotoCoreError, ClientError

from batchops.domain.job import JobSpec
from batchops.errors import StoreUnavailable, ValidationError
from batchops.reports.uploads import put_bytes
from batchops.reports.writer import report_bucket
from batchops.s3.client import QuickClients, checking_client
from batchops.s3.resolver import resolve
from batchops.s3.types import S3Client
from batchops.settings import Settings

MARKER_NAME = "batchops-write-check"
#: A CreateJob waits at most this long for one answer of the store, and for the whole check.
TIMEOUT_SECONDS = 5.0
TOTAL_SECONDS = 10.0
#: Codes for a key the store will not take: the prefix is at fault, not the bucket.
_KEY_REFUSALS = frozenset({"KeyTooLongError", "InvalidRequest", "InvalidArgument", "InvalidObjectName"})
PROVEN_SECONDS = 30.0
_PROVEN_KEPT = 1024


class ProvenWrites:
    """Report locations a role wrote to a moment ago: (account, role, bucket, marker key) → when."""

    def __init__(self, seconds: float = PROVEN_SECONDS) -> None:
        self._seconds = seconds
        self._when: dict[tuple[str, ...], float] = {}

    def knows(self, where: tuple[str, ...]) -> bool:
        at = self._when.get(where)
        return at is not None and time.monotonic() - at < self._seconds

    def add(self, where: tuple[str, ...]) -> None:
        self._when.pop(where, None)
        self._when[where] = time.monotonic()
        while len(self._when) > _PROVEN_KEPT:
            self._when.pop(next(iter(self._when)))


def marker_key(prefix: str | None) -> str:
    prefix = (prefix or "").rstrip("/")
    return f"{prefix}/{MARKER_NAME}" if prefix else MARKER_NAME


async def check_report_writable(
    settings: Settings,
    account_id: str,
    spec: JobSpec,
    clients: QuickClients | None = None,
    proven: ProvenWrites | None = None,
) -> None:
    """Refuse (ValidationError naming Report.Bucket or Report.Prefix) a report the job's role cannot write;
    StoreUnavailable when the store does not answer. Call after ``check_role``; ``clients``: open ones to use;
    ``proven``: writes proven a moment ago, not probed again."""
    if not spec.report.enabled:
        return
    creds = resolve(settings, account_id, spec.role_arn)
    if creds is None:  # check_role refuses this first; nothing to probe with
        return
    bucket = report_bucket(spec.report)
    where = (account_id, spec.role_arn, bucket, marker_key(spec.report.prefix))
    if proven is not None and proven.knows(where):
        return
    async with checking_client(creds, min(settings.s3_timeout_seconds, TIMEOUT_SECONDS), clients) as s3:
        try:
            async with asyncio.timeout(TOTAL_SECONDS):
                await _probe(s3, bucket, marker_key(spec.report.prefix), spec.role_arn)
        except TimeoutError:
            raise unreachable(bucket, f"no answer within {TOTAL_SECONDS:g} s") from None
    if proven is not None:
        proven.add(where)


async def _probe(s3: S3Client, bucket: str, key: str, role_arn: str) -> None:
    try:
        await s3.head_bucket(Bucket=bucket)
        await put_bytes(s3, bucket, key, b"", "text/plain")
    except ClientError as exc:
        raise refusal(exc, bucket, key, role_arn) from None
    except (TimeoutError, BotoCoreError, OSError) as exc:
        raise unreachable(bucket, f"{type(exc).__name__}: {exc}") from None
    # The write is proven; a role that may not delete leaves the (empty, fixed-name) marker.
    with suppress(TimeoutError, ClientError, BotoCoreError, OSError):
        await s3.delete_object(Bucket=bucket, Key=key)


def refusal(exc: ClientError, bucket: str, key: str, role_arn: str) -> Exception:
    """The store's answer to the test write, as the CreateJob error a user can act on."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    said = f"{code or status}: {error.get('Message') or 'no message'}"
    if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        return unreachable(bucket, said)
    if code in ("NoSuchBucket", "404") or status == 404:  # HeadBucket's 404 has no body, so no code
        message = f"Report.Bucket: bucket {bucket} does not exist in the job's store; create it or name another"
        return ValidationError(message, field="Report.Bucket")
    if code in _KEY_REFUSALS:
        message = f"Report.Prefix: the store refused a test write of {key!r} to bucket {bucket} ({said}); change it"
        return ValidationError(message, field="Report.Prefix")
    message = (
        f"Report.Bucket: the job's role {role_arn} cannot write to bucket {bucket} ({said}); "
        "allow it s3:PutObject there, or name a bucket it can write to"
    )
    return ValidationError(message, field="Report.Bucket")


def unreachable(bucket: str, why: str) -> StoreUnavailable:
    return StoreUnavailable(
        f"the object store did not answer a test write to the report bucket {bucket} ({why}); "
        "the job was not created: try again when the store is back"
    )
