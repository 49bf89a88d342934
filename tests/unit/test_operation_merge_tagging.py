"""BatchOpsMergeObjectTagging: parsing, refusals, and the merge itself (pure)."""

from __future__ import annotations

import pytest

from batchops.operations.merge_tagging import MergeObjectTagging, merge_tags
from batchops.operations.registry import get_operation
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
