"""The one interface every operation module implements.

An operation turns its CreateJob XML element into its frozen parameters once (``parse``, at
CreateJob, so bad parameters are refused before any task runs; ``Params.to_json`` is what the job
stores, ``Operation.decode`` reads it back), then performs itself on one object per task (``run``).
``run`` raises botocore's ``ClientError`` (or ``TaskError``) on failure; the job runner maps errors to
report rows in one place (batchops.s3.errors). A dry run (``BatchOpsDryRun``) calls ``check`` instead: it only
reads, and says what ``run`` would do (or raises as ``run`` would fail).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self
from xml.etree.ElementTree import Element

from botocore.exceptions import ClientError
from typing_extensions import TypeVar

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.keylocks import LOCAL_KEY_LOCKS, KeyLocks
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
    #: Names (a replica's key) the job's tasks hold one at a time: across processes where an engine runs them.
    key_locks: KeyLocks = LOCAL_KEY_LOCKS


class Params(ABC):
    """An operation's parameters, parsed once at CreateJob; each operation's is a frozen dataclass.

    ``to_json`` gives the JSON object stored with the job (the shape jobs have always been stored in, so a job
    created by an older batchops still runs); ``from_json`` reads it back. The two are each other's inverse:
    ``from_json(to_json(p)) == p``.
    """

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON object stored with the job."""

    @classmethod
    @abstractmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Self:
        """Read back what ``to_json`` stored."""


@dataclass(frozen=True)
class NoParams(Params):
    """For the operations that take none: stored as ``{}``."""

    def to_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> NoParams:
        return cls()


#: An operation's params class; a bare ``Operation`` (a runner that handles any operation) is ``Operation[Any]``.
P = TypeVar("P", bound=Params, default=Any)


class Operation(ABC, Generic[P]):
    #: The element name under <Operation> in CreateJob (S3 Control dialect).
    name: ClassVar[str]
    #: The class of the parameters ``parse`` returns and ``run`` takes.
    params_type: type[P]
    #: How many of one job's tasks may be in flight at once; None: the server's ``task_concurrency``,
    #: shared by all jobs. An operation that batches its tasks into fewer requests sets more.
    max_in_flight: ClassVar[int | None] = None
    #: An operation that acts on many objects in one go (``run_many``) sets the most it takes at once; the runner
    #: then hands it a chunk's rows in groups of up to this many, without a task per row. 0: one task per row.
    group_size: ClassVar[int] = 0
    #: How many of one job's groups may be in flight at once in one process.
    groups_in_flight: ClassVar[int] = 1

    @abstractmethod
    def parse(self, element: Element) -> P:
        """Validate the operation's XML element into its parameters. Raise ValidationError."""

    @abstractmethod
    async def run(self, ctx: TaskContext, params: P, target: ObjectRef) -> str:
        """Act on one object; return the report's result message for a success."""

    async def run_many(self, ctx: TaskContext, params: P, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        """Act on each object (``group_size`` set): for each, in order, its result message or its failure, as
        ``run`` would return or raise it. Raising fails every one of them with that error."""
        raise NotImplementedError(f"{self.name} acts on one object at a time")

    async def check(self, ctx: TaskContext, params: P, target: ObjectRef) -> str:
        """Dry run: what ``run`` would do to the object, changing nothing. This default HEADs the object (its
        version when the manifest names one), which fails as ``run`` would on a missing one; operations with
        preconditions of their own (batchops.operations.dryrun) check those too."""
        size = (await head_object(ctx, target)).get("ContentLength", 0)
        return f"would run {self.name} (the object exists, {size} byte{'' if size == 1 else 's'})"

    def check_settings(self, params: P, settings: Settings) -> None:
        """At CreateJob, refuse parameters this server's configuration cannot serve (raise ValidationError)."""

    def decode(self, stored: Mapping[str, Any]) -> P:
        """The parameters from the JSON stored with a job."""
        return self.params_type.from_json(stored)

    def encode(self, params: P) -> dict[str, Any]:
        """The JSON to store with a job."""
        return params.to_json()


def version_kwargs(target: ObjectRef) -> dict[str, str]:
    """``VersionId`` for S3 calls when the manifest gave one."""
    return {"VersionId": target.version_id} if target.version_id else {}


async def head_object(ctx: TaskContext, target: ObjectRef) -> dict[str, Any]:
    """HEAD the task's object (its version when the manifest names one). A HEAD answer has no error body, so a
    missing object is reported as GetObject would: NoSuchKey, or NoSuchVersion for a version."""
    try:
        head: dict[str, Any] = await ctx.s3.head_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise missing_object(target) from None
        raise
    return head


def missing_object(target: ObjectRef) -> TaskError:
    if target.version_id:
        return TaskError("NoSuchVersion", 404, f"version {target.version_id} of the object does not exist")
    return TaskError("NoSuchKey", 404, "the object does not exist")
