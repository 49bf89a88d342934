"""S3DeleteObject (a batchops extension): delete an object, or one version of it.

A job's rows are deleted in groups (``run_many``): the runner hands over up to ``MAX_KEYS`` rows of a chunk at
a time, at most ``MAX_REQUESTS`` groups per job and process, and each group goes out as one DeleteObjects request
per bucket it names (s5cmd's ``rm`` sends 10 such requests at once). Each row still gets its own outcome, looked up
by key in the answer.

Under a cap on tasks in flight (``BatchOpsMaxTasksInFlight``) rows run as tasks, one ``run`` each, and are
batched here: concurrent ``run`` calls of one job on one bucket join a DeleteObjects request of up
to 1,000 keys, with ``Quiet=false`` so the store answers for every key. While fewer than ``MAX_REQUESTS``
requests of the batcher are in flight, a request goes out when 1,000 keys wait, or ``LINGER_SECONDS`` after
the first one arrived; otherwise keys keep gathering until one of those answers, so under load the
batches fill up by themselves. Each task still gets its own outcome: its ``Deleted`` entry is its
success message, its ``Errors`` entry its failure (that key's Code and Message). Retries and backoff of
the whole request (503 SlowDown, 5xx, timeouts) come from the S3 client; a request that still fails
fails each of its tasks with that error.

A batch holds at most as many keys as the job's tasks in flight (every waiting task holds a runner slot),
so this operation asks for ``max_in_flight`` = ``MAX_REQUESTS`` full batches of tasks at once rather than
``task_concurrency``: the store sees at most ``MAX_REQUESTS`` DeleteObjects requests per job and bucket from
each process that runs the job's tasks (the server, or each of its ``--workers``), each of up to 1,000 keys, as
``s5cmd rm 'prefix/*'`` sends them (a single full batch in flight left the store idle between requests).

A key (or version id) that XML 1.0 cannot carry (a control character, U+FFFE…) would make the whole
DeleteObjects request malformed, so it is deleted on its own by DeleteObject, the key in the URL path;
should the store refuse that too, only its own task fails.

S3 deletes are idempotent: a key that is already gone still counts as deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import NoParams, Operation, TaskContext, version_kwargs
from batchops.operations.dryrun import check_delete
from batchops.s3.errors import status_for_code
from batchops.s3.types import S3Client
from batchops.s3.xmlbody import xml_can_carry
from batchops.xmlutil import check_children

#: DeleteObjects accepts at most this many keys per request.
MAX_KEYS = 1000
#: How long the first key of a batch waits for others before the request goes out.
LINGER_SECONDS = 0.002
#: DeleteObjects requests of one batcher in flight at once; more keys wait for one of them to answer.
MAX_REQUESTS = 8

BatchKey = tuple[str, str]  # (job id, bucket)


class DeleteObject(Operation[NoParams]):
    name = "S3DeleteObject"
    params_type = NoParams
    max_in_flight = MAX_KEYS * MAX_REQUESTS
    group_size = MAX_KEYS
    groups_in_flight = MAX_REQUESTS

    def __init__(self) -> None:
        self._batchers: dict[BatchKey, _Batcher] = {}

    def parse(self, element: Element) -> NoParams:
        check_children(element, (), self.name)
        return NoParams()

    async def run(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        if not batchable(target):
            result = await delete_alone(ctx, target)
            if isinstance(result, Exception):
                raise result
            return result
        key = (ctx.job_id, target.bucket)
        batcher = self._batchers.get(key)
        if batcher is None or batcher.s3 is not ctx.s3:
            batcher = self._batchers[key] = _Batcher(ctx.s3, target.bucket, lambda: self._batchers.pop(key, None))
        return await batcher.submit(target)

    async def run_many(self, ctx: TaskContext, params: NoParams, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        """DeleteObjects requests per bucket (a manifest may name many) for the keys XML can carry, and a DeleteObject
        for each of the others, all at once; each target's result in its place."""
        by_bucket: dict[str, list[int]] = {}
        alone: list[int] = []
        for index, target in enumerate(targets):
            if batchable(target):
                by_bucket.setdefault(target.bucket, []).append(index)
            else:
                alone.append(index)
        requests = [
            (indexes, _delete_together(ctx.s3, [targets[i] for i in indexes])) for indexes in by_bucket.values()
        ]
        requests += [([index], _delete_one(ctx, targets[index])) for index in alone]
        answers = await asyncio.gather(*(request for _, request in requests))
        results: list[str | Exception] = [""] * len(targets)
        for (indexes, _), answer in zip(requests, answers, strict=True):
            for index, result in zip(indexes, answer, strict=True):
                results[index] = result
        return results

    async def check(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        return await check_delete(ctx, target)


def batchable(target: ObjectRef) -> bool:
    """Whether the key and version id fit in a DeleteObjects body (XML 1.0)."""
    return xml_can_carry(target.key) and (target.version_id is None or xml_can_carry(target.version_id))


async def delete_alone(ctx: TaskContext, target: ObjectRef) -> str | Exception:
    """A DeleteObject: its result message, or its failure."""
    try:
        response = await ctx.s3.delete_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    except Exception as exc:
        return exc
    return describe_delete(response, target)


async def _delete_one(ctx: TaskContext, target: ObjectRef) -> list[str | Exception]:
    return [await delete_alone(ctx, target)]


async def _delete_together(s3: S3Client, targets: list[ObjectRef]) -> list[str | Exception]:
    """DeleteObjects requests of up to ``MAX_KEYS`` keys for ``targets``, all on one bucket."""
    if len(targets) > MAX_KEYS:
        parts = await asyncio.gather(
            *(_delete_together(s3, targets[i : i + MAX_KEYS]) for i in range(0, len(targets), MAX_KEYS))
        )
        return [result for part in parts for result in part]
    objects = [{"Key": target.key, **version_kwargs(target)} for target in targets]
    try:
        response = await s3.delete_objects(Bucket=targets[0].bucket, Delete={"Objects": objects, "Quiet": False})
    except Exception as exc:  # the whole request failed after the client's retries: so did each task
        return [exc] * len(targets)
    return outcomes_of(targets, response)


@dataclass
class _Waiting:
    target: ObjectRef
    result: asyncio.Future[str]


@dataclass
class _Batcher:
    """Collects one job's deletes on one bucket and sends them as DeleteObjects requests."""

    s3: S3Client
    bucket: str
    on_idle: Any  # called when nothing waits and nothing is in flight, to drop this batcher
    waiting: list[_Waiting] = field(default_factory=list)
    in_flight: int = 0
    timer: asyncio.TimerHandle | None = None

    async def submit(self, target: ObjectRef) -> str:
        entry = _Waiting(target, asyncio.get_running_loop().create_future())
        self.waiting.append(entry)
        if len(self.waiting) >= MAX_KEYS and self.in_flight < MAX_REQUESTS:
            self._flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._linger_over)
        return await entry.result

    def _linger_over(self) -> None:
        self.timer = None
        if self.in_flight < MAX_REQUESTS:
            self._flush()
        # else: the next answer flushes what gathered meanwhile (see _send)

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch = [entry for entry in self.waiting[:MAX_KEYS] if not entry.result.done()]
        del self.waiting[:MAX_KEYS]
        if self.waiting:
            self.timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._linger_over)
        if batch:
            self.in_flight += 1
            asyncio.get_running_loop().create_task(self._send(batch))
        elif not self.waiting and not self.in_flight:
            self.on_idle()

    async def _send(self, batch: list[_Waiting]) -> None:
        try:
            objects = [{"Key": e.target.key, **version_kwargs(e.target)} for e in batch]
            response = await self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": False})
        except Exception as exc:  # the whole request failed after the client's retries: so did each task
            for entry in batch:
                _settle(entry, exc)
        else:
            for entry, outcome in zip(batch, outcomes_of([e.target for e in batch], response), strict=True):
                _settle(entry, outcome)
        finally:
            self.in_flight -= 1
            if self.waiting and (self.timer is None or len(self.waiting) >= MAX_KEYS):
                self._flush()  # keys that gathered while the requests were in flight
            elif not self.waiting and not self.in_flight and self.timer is None:
                self.on_idle()


def outcomes_of(targets: Sequence[ObjectRef], response: dict[str, Any]) -> list[str | Exception]:
    """Each key's result in a DeleteObjects answer, in the order of ``targets``: its success message, or its
    error. The answer's entries are looked up by key (a scan per key made 1,000-key batches quadratic)."""
    deleted, errors = _by_key(response.get("Deleted", [])), _by_key(response.get("Errors", []))
    return [outcome_of(t, deleted.get(t.key, []), errors.get(t.key, [])) for t in targets]


def _by_key(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_key.setdefault(entry.get("Key"), []).append(entry)  # type: ignore[arg-type]
    return by_key


def outcome_of(
    target: ObjectRef, deleted_entries: list[dict[str, Any]], error_entries: list[dict[str, Any]]
) -> str | Exception:
    """One key's result, from the answer's entries for its key: its success message, or its error."""
    deleted = _entry_for(target, deleted_entries)
    if deleted is not None:
        return describe_delete(
            {"DeleteMarker": deleted.get("DeleteMarker"), "VersionId": deleted.get("DeleteMarkerVersionId")}, target
        )
    error = _entry_for(target, error_entries)
    if error is not None:
        code = str(error.get("Code") or "InternalError")
        return TaskError(
            code, status_for_code(code), str(error.get("Message") or f"the store could not delete it: {code}")
        )
    return TaskError("InternalError", 0, "the store's DeleteObjects answer did not mention this key; run the job again")


def _entry_for(target: ObjectRef, same_key: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The entry for this key (and version) among the answer's entries for its key; stores differ in echoing
    VersionId, so fall back to the key."""
    exact = [e for e in same_key if e.get("VersionId") == target.version_id]
    if exact:
        return exact[0]
    if target.version_id is None or all(e.get("VersionId") is None for e in same_key):
        return same_key[0] if same_key else None
    return None


def _settle(entry: _Waiting, outcome: str | BaseException) -> None:
    if entry.result.done():  # the task was cancelled while its batch was in flight
        return
    if isinstance(outcome, BaseException):
        entry.result.set_exception(outcome)
    else:
        entry.result.set_result(outcome)


def describe_delete(response: dict[str, Any], target: ObjectRef) -> str:
    if target.version_id:
        return f"version {target.version_id} deleted"
    if response.get("DeleteMarker"):
        # On a versioned bucket a plain delete only hides the object behind a delete marker.
        marker = response.get("VersionId")
        return f"delete marker {marker} created" if marker else "delete marker created"
    return "deleted"
