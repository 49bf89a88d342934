"""Bookkeeping that fails, on a real server and SeaweedFS: an outcome that cannot be recorded as it is
(a manifest key that is not UTF-8) becomes a failed row that can, and no task runs twice because of it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.jobs import create_job, read_report, wait_status

pytestmark = pytest.mark.integration


def versions_per_key(s3: Any, bucket: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        counts.update(version["Key"] for version in page.get("Versions", []))
    return counts


def test_an_invalid_utf8_row_fails_alone_and_each_good_object_is_copied_once(
    control: Any, s3: Any, new_bucket: Any
) -> None:
    # Given 10 good objects and a manifest with one line of invalid UTF-8 among them (issue 10, item 3)
    source, target, reports = new_bucket(), new_bucket(), new_bucket()
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    good = [f"good-{n}" for n in range(10)]
    for key in good:
        s3.put_object(Bucket=source, Key=key, Body=key.encode())
    lines = [f"{source},{key}".encode() for key in good]
    lines.insert(5, source.encode() + b",\xff\xfebad")
    etag = s3.put_object(Bucket=source, Key="manifest.csv", Body=b"\n".join(lines) + b"\n")["ETag"]
    location = {"ObjectArn": f"arn:aws:s3:::{source}/manifest.csv", "ETag": etag}
    operation = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}"}}

    # When a copy job into a versioned bucket runs it
    job = wait_status(control, create_job(control, location, operation, report_bucket=reports), "Complete", 30)

    # Then each good object was copied exactly once, and the bad line is one failed row that names it
    assert versions_per_key(s3, target) == {key: 1 for key in good}
    summary = job["ProgressSummary"]
    assert (summary["NumberOfTasksSucceeded"], summary["NumberOfTasksFailed"]) == (10, 1)
    _index, rows = read_report(s3, reports, job["JobId"])
    [failed] = [row for row in rows if row[3] == "failed"]
    # A line that names no object is reported by itself, URL-encoded (its bytes, as the report is UTF-8)
    assert (failed[1], failed[4]) == (f"{source}%2C%FF%FEbad", "InvalidManifestRow")
