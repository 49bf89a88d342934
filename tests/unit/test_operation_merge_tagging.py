"""BatchOpsMergeObjectTagging: parsing, refusals, the merge itself (pure), and the operation contract."""

from __future__ import annotations

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.merge_tagging import MergeObjectTagging, merge_tags
from batchops.operations.registry import get_operation
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, where
from tests.support.operation_xml import parse, refusal, tags_xml

# --- BatchOpsMergeObjectTagging ----------------------------------------------------------------


def test_merge_parses_tags_and_keys_to_remove() -> None:
    xml = (
        f"<BatchOpsMergeObjectTagging><TagSet>{tags_xml([('a', '1')])}</TagSet>"
        "<RemoveKeys><member>old</member></RemoveKeys></BatchOpsMergeObjectTagging>"
    )
    assert parse(MergeObjectTagging(), xml) == {"TagSet": [{"Key": "a", "Value": "1"}], "RemoveKeys": ["old"]}
    assert get_operation("BatchOpsMergeObjectTagging").name == "BatchOpsMergeObjectTagging"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "needs a TagSet to add or a RemoveKeys list"),
        (f"<TagSet>{tags_xml([('a', '1')])}</TagSet><RemoveKeys><member>a</member></RemoveKeys>", "both in TagSet"),
        ("<RemoveKeys><member>x</member><member>x</member></RemoveKeys>", "lists a key twice"),
        (f"<TagSet>{tags_xml([(f'k{i}', 'v') for i in range(11)])}</TagSet>", "at most 10"),
        ("<Tags/>", "unknown element(s) Tags"),
    ],
)
def test_merge_refusals(body: str, expected: str) -> None:
    assert expected in refusal(MergeObjectTagging(), f"<BatchOpsMergeObjectTagging>{body}</BatchOpsMergeObjectTagging>")


def test_merge_overwrites_adds_and_removes_keeping_order() -> None:
    current = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]
    merged = merge_tags(current, [{"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}], ["c"])
    assert merged == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}]


# --- the operation contract --------------------------------------------------------------------

MERGE = "BatchOpsMergeObjectTagging"


class TestMergeObjectTaggingContract(OperationContract):
    operation = MergeObjectTagging()
    xml = (
        f"<{MERGE}><TagSet>{tags_xml([('b', 'new'), ('d', '4')])}</TagSet>"
        f"<RemoveKeys><member>c</member></RemoveKeys></{MERGE}>"
    )
    refusals = [
        (f"<{MERGE}/>", "needs a TagSet"),
        (
            f"<{MERGE}><TagSet>{tags_xml([('a', '1')])}</TagSet><RemoveKeys><member>a</member></RemoveKeys></{MERGE}>",
            "both in TagSet and in RemoveKeys",
        ),
        (f"<{MERGE}><RemoveKeys><member>x</member><member>x</member></RemoveKeys></{MERGE}>", f"{MERGE}.RemoveKeys"),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        current = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]
        s3.answer("get_object_tagging", {"TagSet": current})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        merged = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}]
        return [
            Call("get_object_tagging", where(target)),
            Call("put_object_tagging", {"Tagging": {"TagSet": merged}, **where(target)}),
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags merged (3 tags)"


class TestMergeThatChangesNothingContract(TestMergeObjectTaggingContract):
    """Tags already as the job wants them: read, and no write."""

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("get_object_tagging", {"TagSet": [{"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}]})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("get_object_tagging", where(target))]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags unchanged (2 tags)"
