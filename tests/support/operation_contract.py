"""What every operation must do, checked the same way for each (S3 and COS alike).

Subclass ``OperationContract`` as ``Test<Operation>Contract`` in the operation's own test module and fill in:

* ``operation`` and ``xml`` (its CreateJob element with good parameters);
* ``refusals``: bad elements, each with the field name its ValidationError message must contain;
* ``expected_calls(target)``: the exact S3 calls one task makes on ``target``, in order, checked for a
  target without a version id and for one with (``VERSION_ID``);
* optionally ``script(s3, target)`` (the answers the store gives, on a ``RecordingS3``), ``context(s3)``
  and ``expected_message(target)``.

The tests run ``parse`` → stored JSON → ``decode`` (as CreateJob stores a job and the runner reads it back)
and ``run`` against ``RecordingS3``; the model is s3transfer's ``StubbedClientTest``, where each test lists
``{'method', 'service_response', 'expected_params'}`` for the calls it expects.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

import pytest

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, Params, TaskContext
from batchops.s3.recording import Call, RecordingS3
from batchops.xmlutil import parse_xml

VERSION_ID = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
#: The object a task acts on, without and with a version id.
TARGETS = {
    "current": ObjectRef("src-bucket", "dir/key one.txt"),
    "versioned": ObjectRef("src-bucket", "dir/key one.txt", VERSION_ID),
}


def version(target: ObjectRef) -> dict[str, str]:
    """``VersionId`` in a call's arguments when the target names a version."""
    return {"VersionId": target.version_id} if target.version_id else {}


def where(target: ObjectRef) -> dict[str, str]:
    """Bucket, Key (and VersionId) of the target, as most calls start."""
    return {"Bucket": target.bucket, "Key": target.key, **version(target)}


class OperationContract:
    operation: ClassVar[Operation]
    xml: ClassVar[str]
    #: (bad XML, the field name its refusal's message must contain).
    refusals: ClassVar[list[tuple[str, str]]]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        raise NotImplementedError

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        """Script the store's answers to the calls one task makes (nothing: every call succeeds empty)."""

    def context(self, s3: RecordingS3) -> TaskContext:
        return TaskContext(s3=s3, job_id="contract-job")

    def expected_message(self, target: ObjectRef) -> str | None:
        """The report's result message of a success; None: not checked."""
        return None

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "bad_xml" in metafunc.fixturenames:
            metafunc.parametrize(("bad_xml", "field"), self.refusals, ids=[f for _, f in self.refusals])
        if "target" in metafunc.fixturenames:
            metafunc.parametrize("target", TARGETS.values(), ids=list(TARGETS))

    # --- the contract ----------------------------------------------------------------------------

    def parsed(self) -> Params:
        return self.operation.parse(parse_xml(self.xml.encode()))

    def test_parse_round_trips_through_the_stored_json(self) -> None:
        params = self.parsed()
        assert type(params) is self.operation.params_type
        stored = json.loads(json.dumps(self.operation.encode(params)))
        assert self.operation.decode(stored) == params
        assert self.operation.encode(self.operation.decode(stored)) == stored

    def test_params_are_frozen(self) -> None:
        params = self.parsed()
        fields = dataclasses.fields(params)  # type: ignore[arg-type]
        if fields:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(params, fields[0].name, None)

    def test_a_refusal_names_its_field(self, bad_xml: str, field: str) -> None:
        with pytest.raises(ValidationError) as info:
            self.operation.parse(parse_xml(bad_xml.encode()))
        assert field in str(info.value)
        assert info.value.field, "the error carries the field it refuses, for the API's error answer"

    async def test_the_exact_s3_calls(self, target: ObjectRef) -> None:
        s3 = RecordingS3()
        self.script(s3, target)
        stored = json.loads(json.dumps(self.operation.encode(self.parsed())))
        message = await self.operation.run(self.context(s3), self.operation.decode(stored), target)
        assert s3.calls == self.expected_calls(target)
        assert s3.unused() == {}
        expected: Any = self.expected_message(target)
        if expected is not None:
            assert message == expected
