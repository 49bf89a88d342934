"""The one interface every operation module implements.

An operation turns its CreateJob XML element into JSON-able parameters once (``parse``, at
CreateJob, so bad parameters are refused before any task runs), then performs itself on one
object per task (``run``). ``run`` raises botocore's ``ClientError`` (or ``TaskError``) on
failure; the job runner maps errors to report rows in one place (batchops.s3.errors).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.s3.pool import NO_ROUTES, StoreRoutes, TransferLimits
from batchops.s3.types import S3Client

if TYPE_CHECKING:
    from batchops.functions import FunctionInvoker
    from batchops.settings import Settings


@dataclass(frozen=True)
class TaskContext:
    """What a running task may use: the S3 client of the job's store, and the job it belongs to."""

    s3: S3Client  # batchops.s3.client.open_client's: a FastS3 (lean hot calls over aiobotocore), or aiobotocore's own
    job_id: str
    #: Invokes the functions of ``[[functions]]`` (LambdaInvoke); None where no engine provides one.
    functions: FunctionInvoker | None = None
    #: Buckets on other stores (copy targets, replicas) and their clients.
    stores: StoreRoutes = NO_ROUTES
    #: Multipart threshold, part size and the memory budget of copies.
    transfer: TransferLimits = field(default_factory=TransferLimits)


class Operation(ABC):
    #: The element name under <Operation> in CreateJob (S3 Control dialect).
    name: ClassVar[str]
    #: How many of one job's tasks may be in flight at once; None: the server's ``task_concurrency``,
    #: shared by all jobs. An operation that batches its tasks into fewer requests sets more.
    max_in_flight: ClassVar[int | None] = None

    @abstractmethod
    def parse(self, element: Element) -> dict[str, Any]:
        """Validate the operation's XML element; return JSON-able parameters. Raise ValidationError."""

    @abstractmethod
    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        """Act on one object; return the report's result message for a success."""

    def check_settings(self, params: dict[str, Any], settings: Settings) -> None:  # noqa: B027 (optional hook)
        """At CreateJob, refuse parameters this server's configuration cannot serve (raise ValidationError)."""


def version_kwargs(target: ObjectRef) -> dict[str, str]:
    """``VersionId`` for S3 calls when the manifest gave one."""
    return {"VersionId": target.version_id} if target.version_id else {}
