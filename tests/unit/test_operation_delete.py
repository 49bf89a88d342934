"""S3DeleteObject: its batcher (concurrent tasks fill DeleteObjects requests, an in-package fake store), and
one key's outcome in a DeleteObjects answer, and the operation contract."""

from __future__ import annotations

import asyncio
from typing import Any

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import NoParams, Operation, TaskContext
from batchops.operations.cos_delete import COSDeleteObject
from batchops.operations.delete import MAX_KEYS, MAX_REQUESTS, DeleteObject, outcomes_of
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, version


class FakeStore:
    """Answers DeleteObjects after ``latency`` seconds, or after ``turns`` event-loop turns (a latency that does not
    depend on how fast the machine is); records each request's key count."""

    def __init__(self, latency: float = 0.0, turns: int = 0) -> None:
        self.latency = latency
        self.turns = turns
        self.batches: list[int] = []
        self.most_in_flight = 0
        self._in_flight = 0

    async def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.batches.append(len(Delete["Objects"]))
        self._in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self._in_flight)
        await asyncio.sleep(self.latency)
        for _ in range(self.turns):
            await asyncio.sleep(0)
        self._in_flight -= 1
        return {"Deleted": [{"Key": o["Key"]} for o in Delete["Objects"]]}


async def run_tasks(operation: DeleteObject, store: FakeStore, count: int, start_gap: float | None) -> list[str]:
    """``count`` tasks, at most ``max_in_flight`` at once, started ``start_gap`` apart (like a runner)."""
    assert operation.max_in_flight is not None
    slots = asyncio.Semaphore(operation.max_in_flight)
    ctx = TaskContext(s3=store, job_id="job")

    async def task(i: int) -> str:
        try:
            return await operation.run(ctx, NoParams(), ObjectRef("bucket", f"k{i}"))
        finally:
            slots.release()

    tasks = []
    for i in range(count):
        await slots.acquire()
        tasks.append(asyncio.create_task(task(i)))
        if start_gap is not None:
            await asyncio.sleep(start_gap)
    return await asyncio.gather(*tasks)


def test_delete_asks_for_a_full_batch_of_tasks_in_flight_per_request() -> None:
    assert DeleteObject.max_in_flight == MAX_KEYS * MAX_REQUESTS == 8000
    assert COSDeleteObject.max_in_flight == DeleteObject.max_in_flight
    assert Operation.max_in_flight is None


async def test_tasks_started_together_share_one_full_request() -> None:
    store = FakeStore(latency=0.01)
    results = await run_tasks(DeleteObject(), store, 2 * MAX_KEYS, start_gap=None)
    assert results == ["deleted"] * 2 * MAX_KEYS
    assert store.batches == [MAX_KEYS, MAX_KEYS]


async def test_batches_fill_while_tasks_trickle_in() -> None:
    # Given tasks started one per event-loop turn (as a runner starts them: each waits for its slot) and a
    # store taking 1,500 loop turns per request (counted in turns, so a loaded machine does not change it)
    store = FakeStore(turns=1500)
    results = await run_tasks(DeleteObject(), store, 5000, start_gap=0)
    # Then keys gather while requests are in flight: requests carry hundreds of keys on average (with the
    # old limit of task_concurrency = 64 tasks in flight, at most 64), at most MAX_REQUESTS at once
    assert len(results) == 5000 and sum(store.batches) == 5000
    assert store.most_in_flight <= MAX_REQUESTS
    assert len(store.batches) <= 40, store.batches  # 125 keys a request on average, not 64
    assert max(store.batches) >= 125, store.batches


class RecordingStore:
    """Records the keys of each DeleteObjects request and of each single DeleteObject."""

    def __init__(self) -> None:
        self.batched: list[list[str]] = []
        self.alone: list[tuple[str, str | None]] = []

    async def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.batched.append([o["Key"] for o in Delete["Objects"]])
        return {"Deleted": [{"Key": o["Key"]} for o in Delete["Objects"]]}

    async def delete_object(self, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:
        self.alone.append((Key, VersionId))
        return {}


async def test_a_key_xml_cannot_carry_is_deleted_alone_and_its_batch_goes_on() -> None:
    # Given keys XML 1.0 cannot carry (a C0 control, U+FFFE, a version id with one) among ordinary keys
    store, operation = RecordingStore(), DeleteObject()
    ctx = TaskContext(s3=store, job_id="job")
    targets = [
        ObjectRef("bucket", "ok1"),
        ObjectRef("bucket", "ctl\x01key"),
        ObjectRef("bucket", "fffe\ufffekey"),
        ObjectRef("bucket", "v", "bad\x02version"),
        ObjectRef("bucket", "crlf\rkey"),
    ]
    # When they run together
    results = await asyncio.gather(*(operation.run(ctx, NoParams(), t) for t in targets))
    # Then the ordinary keys share one DeleteObjects request and the others go one by one in the URL path
    assert store.batched == [["ok1", "crlf\rkey"]]
    assert store.alone == [("ctl\x01key", None), ("fffe\ufffekey", None), ("v", "bad\x02version")]
    assert results == ["deleted", "deleted", "deleted", "version bad\x02version deleted", "deleted"]


# --- S3DeleteObject: one key's outcome in a DeleteObjects answer ----------------------------------


def test_delete_outcome_per_key() -> None:
    response = {
        "Deleted": [
            {"Key": "a"},
            {"Key": "v", "VersionId": "v1"},
            {"Key": "m", "DeleteMarker": True, "DeleteMarkerVersionId": "dm1"},
        ],
        "Errors": [{"Key": "locked", "Code": "AccessDenied", "Message": "retention"}],
    }
    targets = [ObjectRef("b", "a"), ObjectRef("b", "v", "v1"), ObjectRef("b", "m"), ObjectRef("b", "locked")]
    targets += [ObjectRef("b", "absent"), ObjectRef("b", "v", "other")]
    done, v1, marker, error, missing, other = outcomes_of(targets, response)
    assert (done, v1, marker) == ("deleted", "version v1 deleted", "delete marker dm1 created")
    assert isinstance(error, TaskError)
    assert (error.code, error.http_status, error.message) == ("AccessDenied", 403, "retention")
    assert isinstance(missing, TaskError) and "did not mention this key" in missing.message
    # A version the answer does not name is not confused with another version of the same key.
    assert isinstance(other, TaskError)


# --- the operation contract ----------------------------------------------------------------------


class TestDeleteObjectContract(OperationContract):
    """One task alone still goes out as a DeleteObjects request (of one key), after the linger."""

    operation = DeleteObject()
    xml = "<S3DeleteObject/>"
    refusals = [("<S3DeleteObject><Quiet>true</Quiet></S3DeleteObject>", "unknown element(s) Quiet")]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("delete_objects", {"Deleted": [{"Key": target.key, **version(target)}]})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        objects = [{"Key": target.key, **version(target)}]
        return [Call("delete_objects", {"Bucket": target.bucket, "Delete": {"Objects": objects, "Quiet": False}})]

    def expected_message(self, target: ObjectRef) -> str:
        return f"version {target.version_id} deleted" if target.version_id else "deleted"


async def test_run_many_sends_the_keys_xml_can_carry_in_one_request_and_the_others_alone() -> None:
    store, operation = RecordingStore(), DeleteObject()
    ctx = TaskContext(s3=store, job_id="job")
    targets = [
        ObjectRef("bucket", "ok1"),
        ObjectRef("bucket", "ctl\x01key"),
        ObjectRef("bucket", "v", "bad\x02version"),
        ObjectRef("bucket", "crlf\rkey"),
    ]

    results = await operation.run_many(ctx, NoParams(), targets)

    assert store.batched == [["ok1", "crlf\rkey"]]
    assert store.alone == [("ctl\x01key", None), ("v", "bad\x02version")]
    assert results == ["deleted", "deleted", "version bad\x02version deleted", "deleted"]


class RefusingStore(RecordingStore):
    async def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        raise TaskError("SlowDown", 503, "reduce your request rate")

    async def delete_object(self, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:
        raise TaskError("AccessDenied", 403, "not this one")


async def test_run_many_fails_each_key_of_a_failed_request_and_only_the_key_of_a_failed_single_delete() -> None:
    ctx = TaskContext(s3=RefusingStore(), job_id="job")
    targets = [ObjectRef("bucket", "a"), ObjectRef("bucket", "ctl\x01key"), ObjectRef("bucket", "b")]

    a, alone, b = await DeleteObject().run_many(ctx, NoParams(), targets)

    assert isinstance(a, TaskError) and a.code == "SlowDown" and b is a
    assert isinstance(alone, TaskError) and alone.code == "AccessDenied"


class BucketRecordingStore:
    """Records each DeleteObjects request's bucket and keys; answers that every key was deleted."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[str]]] = []

    async def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((Bucket, [o["Key"] for o in Delete["Objects"]]))
        return {"Deleted": [{"Key": o["Key"]} for o in Delete["Objects"]]}


async def test_run_many_sends_each_bucket_its_own_requests_of_at_most_1000_keys() -> None:
    # Given a group naming the same keys on two buckets, interleaved, and 2,500 keys on a third
    store = BucketRecordingStore()
    ctx = TaskContext(s3=store, job_id="job")
    targets = [ObjectRef(bucket, key) for key in ("a", "b") for bucket in ("one", "two")]
    targets += [ObjectRef("big", f"k{i}") for i in range(2500)]

    results = await DeleteObject().run_many(ctx, NoParams(), targets)

    # Then each key goes to its own bucket only, and no request holds more than 1,000 keys
    assert results == ["deleted"] * len(targets)
    assert ("one", ["a", "b"]) in store.requests and ("two", ["a", "b"]) in store.requests
    big = [keys for bucket, keys in store.requests if bucket == "big"]
    assert sorted(map(len, big)) == [500, 1000, 1000]
    assert sorted(key for keys in big for key in keys) == sorted(f"k{i}" for i in range(2500))
