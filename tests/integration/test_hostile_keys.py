"""Hostile keys through every operation against real SeaweedFS: each task acts on exactly its own object or
fails only its own row, and no other object changes.

Issue 10, items 1 and 2 exactly as reported, then the hunt for the rest of the class: hypothesis draws keys
from the whole character space (control characters, \\r, \\n, \\t, NUL, U+FFFE/U+FFFF, XML and URL specials,
% sequences, non-NFC Unicode, 1,024-byte keys) and every operation SeaweedFS supports runs them as one job
each, the jobs side by side. Each bucket also holds near twins of the listed keys (\\r → \\n, NFC ↔ NFD, …)
that are not listed; a listing of every object with its ETag, tags and the operation's own mark (ACL, legal
hold, retention) taken before and after must differ exactly by the effects of the succeeded tasks. Manifest
rows that are not UTF-8 (or decode to a lone surrogate) must fail alone as InvalidManifestRow.

``make test`` runs one drawn batch; ``make soak`` (BATCHOPS_SOAK=1) runs ``SOAK_EXAMPLES`` of them.
Keys SeaweedFS 4.48 itself aliases or refuses as paths (``a//b`` is ``a/b``, ``a\\b`` is ``a/b``, a leading
``/`` is dropped, ``.``/``..`` segments and a trailing ``/``) are not drawn: batchops sends them intact (URL
path ``%5C``, ``//``), the store does not keep them apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.cos import cos_request
from tests.support.http import signed_request
from tests.support.jobs import wait_status
from tests.support.manifests import generator_job
from tests.support.server import ACCOUNT, Server
from tests.support.strategies import hostile_text

pytestmark = pytest.mark.integration

SOAK = os.environ.get("BATCHOPS_SOAK") == "1"
SOAK_EXAMPLES = 25
#: Drawn keys per batch (each job also gets the fixed ones below).
DRAWN = 12
COS_ROLE = "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole"


def long_key(unit: str) -> str:
    """A key of exactly 1,024 bytes made of ``unit``, in segments SeaweedFS can hold (≤ 255 bytes each)."""
    segment = unit * (200 // len(unit.encode()))
    key = "/".join([segment] * 5)
    return key + "x" * (1024 - len(key.encode()))


#: Keys every batch carries: the issue's, one per hostile class, and the longest keys S3 allows.
FIXED = [
    "crlf\rkey",
    "ctl\x01key",
    "nul\x00key",
    "fffe\ufffekey",
    "ffff\uffffkey",
    "tab\tkey",
    "xml&amp;<Key>'\"]]>",
    "pct%0D%25%2F%zz",
    "plus+ space",
    "caf\u00e9-nfc",
    "cafe\u0301-nfd",
    "k" * 1024,  # one segment: SeaweedFS keeps at most 255 bytes per segment outside versioned buckets
    *(long_key(unit) for unit in ("d", "\u00e9", "\U0001f600", "\r&")),
]
#: Manifest lines that name no usable key: each must fail alone as InvalidManifestRow.
BAD_LINES = [
    b"{bucket},\xff\xfebad",
    b"{bucket},\xed\xa0\x80",
    b"{bucket},%ED%A0%80",
    b"{bucket},%FF",
    b"{bucket}," + b"k" * 1025,
]


def seaweed_keeps(key: str) -> bool:
    """SeaweedFS 4.48 aliases or refuses these paths itself (see the module docstring)."""
    # an empty segment is a leading, trailing or doubled slash; a backslash it reads as a slash
    return "\\" not in key and not {"", ".", ".."} & set(key.split("/"))


hostile_key = hostile_text.filter(lambda k: len(k.encode()) <= 1024 and seaweed_keeps(k))


def twins(key: str) -> set[str]:
    """Keys a careless encoder or normaliser would confuse with ``key``."""
    near = {
        key.replace("\r\n", "\n").replace("\r", "\n"),
        unicodedata.normalize("NFC", key),
        unicodedata.normalize("NFD", key),
        unquote(key),
        key.strip(),
        key.replace("&amp;", "&"),
        key.replace("\x00", ""),
    }
    return {k for k in near - {key} if k and len(k.encode()) <= 1024 and seaweed_keeps(k)}


# --- what each operation does, and how to see it ---------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    operation: str  # the Operation element's XML ({target} is the copy target bucket)
    cos: bool = False
    object_lock: bool = False
    copies: bool = False
    mark: Callable[[Any, str, str], Any] | None = None  # (s3, bucket, key) → the operation's own mark
    effect: Callable[[State | None], bool] = lambda after: after is not None


@dataclass(frozen=True)
class State:
    etag: str
    tags: frozenset[tuple[str, str]]
    mark: Any = None


def tags_are(*pairs: tuple[str, str]) -> Callable[[State | None], bool]:
    return lambda after: after is not None and after.tags == frozenset(pairs)


def public_read(s3: Any, bucket: str, key: str) -> bool:
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ" for g in grants)


def legal_hold(s3: Any, bucket: str, key: str) -> str:
    try:
        return str(s3.get_object_legal_hold(Bucket=bucket, Key=key)["LegalHold"]["Status"])
    except ClientError:
        return "none"


def retention(s3: Any, bucket: str, key: str) -> str:
    try:
        return str(s3.get_object_retention(Bucket=bucket, Key=key)["Retention"]["Mode"])
    except ClientError:
        return "none"


UNTIL = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
CASES = [
    Case(
        "tagging",
        "<S3PutObjectTagging><TagSet><member><Key>hk</Key><Value>1</Value></member></TagSet></S3PutObjectTagging>",
        effect=tags_are(("hk", "1")),
    ),
    Case("delete-tagging", "<S3DeleteObjectTagging/>", effect=tags_are()),
    Case(
        "merge-tagging",
        "<BatchOpsMergeObjectTagging><TagSet><member><Key>new</Key><Value>2</Value></member></TagSet>"
        "<RemoveKeys><member>pre</member></RemoveKeys></BatchOpsMergeObjectTagging>",
        effect=tags_are(("new", "2")),
    ),
    Case(
        "acl",
        "<S3PutObjectAcl><AccessControlPolicy><CannedAccessControlList>public-read</CannedAccessControlList>"
        "</AccessControlPolicy></S3PutObjectAcl>",
        mark=public_read,
        effect=lambda after: after is not None and after.mark is True,
    ),
    Case(
        "copy", "<S3PutObjectCopy><TargetResource>arn:aws:s3:::{target}</TargetResource></S3PutObjectCopy>", copies=True
    ),
    Case("delete", "<S3DeleteObject/>", effect=lambda after: after is None),
    Case(
        "checksum",
        "<S3ComputeObjectChecksum><ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
        "</S3ComputeObjectChecksum>",
    ),
    Case(
        "legal-hold",
        "<S3PutObjectLegalHold><LegalHold><Status>ON</Status></LegalHold></S3PutObjectLegalHold>",
        object_lock=True,
        mark=legal_hold,
        effect=lambda after: after is not None and after.mark == "ON",
    ),
    Case(
        "retention",
        f"<S3PutObjectRetention><Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>{UNTIL}</RetainUntilDate>"
        "</Retention></S3PutObjectRetention>",
        object_lock=True,
        mark=retention,
        effect=lambda after: after is not None and after.mark == "GOVERNANCE",
    ),
    Case(
        "cos-tagging",
        "<COSPutObjectTagging><TagSet><COSTag><Key>ck</Key><Value>1</Value></COSTag></TagSet></COSPutObjectTagging>",
        cos=True,
        effect=tags_are(("ck", "1")),
    ),
    Case(
        "cos-copy",
        "<COSPutObjectCopy><TargetResource>qcs::cos:ap-chengdu::{target}</TargetResource></COSPutObjectCopy>",
        cos=True,
        copies=True,
    ),
    Case("cos-delete", "<COSDeleteObject></COSDeleteObject>", cos=True, effect=lambda after: after is None),
]


# --- the store side --------------------------------------------------------------------------------


def snapshot(s3: Any, bucket: str, mark: Callable[[Any, str, str], Any] | None) -> dict[str, State]:
    """Every object in the bucket: ETag, tags and the operation's mark (boto3 lists URL-encoded, decoding)."""
    keys = {
        o["Key"]: o["ETag"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }

    def state(key: str) -> State:
        tags = frozenset((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"])
        return State(keys[key], tags, mark(s3, bucket, key) if mark else None)

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(keys, pool.map(state, keys), strict=True))


def create_objects(s3: Any, bucket: str, keys: set[str]) -> set[str]:
    """Put each key (its UTF-8 bytes as the body, tagged pre=1); the keys the store refused are left out."""

    def put(key: str) -> str | None:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), Tagging="pre=1")
        except ClientError:
            return None
        return key

    with ThreadPoolExecutor(8) as pool:
        return {key for key in pool.map(put, sorted(keys)) if key is not None}


# --- jobs ----------------------------------------------------------------------------------------


@dataclass
class Run:
    case: Case
    bucket: str
    target: str | None
    listed: list[str]
    before: dict[str, State]
    job_id: str = ""
    report: list[list[str]] = field(default_factory=list)


def manifest_lines(bucket: str, listed: list[str]) -> bytes:
    rows = [f"{bucket},{quote(key, safe='/')}".encode() for key in listed]
    return b"\n".join(rows + [line.replace(b"{bucket}", bucket.encode()) for line in BAD_LINES]) + b"\n"


def create_s3_job(server: Server, case: Case, target: str | None, reports: str, etag: str, key: str) -> str:
    body = f"""<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">
      <ConfirmationRequired>false</ConfirmationRequired><Operation>{case.operation.format(target=target)}</Operation>
      <Report><Enabled>true</Enabled><Bucket>arn:aws:s3:::{reports}</Bucket><Prefix>reports</Prefix>
        <Format>Report_CSV_20180820</Format><ReportScope>AllTasks</ReportScope></Report>
      <ClientRequestToken>{uuid.uuid4()}</ClientRequestToken>
      <Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>
        <Fields><member>Bucket</member><member>Key</member></Fields></Spec>
        <Location><ObjectArn>arn:aws:s3:::{reports}/{key}</ObjectArn><ETag>{etag}</ETag></Location></Manifest>
      <Priority>1</Priority><RoleArn>arn:aws:iam::{ACCOUNT}:role/r</RoleArn></CreateJobRequest>"""
    status, reply = signed_request(server.url, "POST", "/v20180820/jobs", body.encode())
    assert status == 200, reply
    return reply.decode().split("<JobId>")[1].split("</JobId>")[0]


def create_cos_job(server: Server, case: Case, target: str | None, reports: str, etag: str, key: str) -> str:
    body = (
        f"<CreateJobRequest><ClientRequestToken>{uuid.uuid4()}</ClientRequestToken>"
        "<ConfirmationRequired>false</ConfirmationRequired>"
        f"<Manifest><Location><ETag>{etag}</ETag><ObjectArn>qcs::cos:ap-chengdu::{reports}/{key}</ObjectArn></Location>"
        "<Spec><Fields><member>Bucket</member><member>Key</member></Fields><Format>COSBatchOperations_CSV_V1</Format>"
        f"</Spec></Manifest><Operation>{case.operation.format(target=target)}</Operation><Priority>1</Priority>"
        f"<Report><Bucket>qcs::cos:ap-chengdu:uid/{ACCOUNT}:{reports}</Bucket><Enabled>true</Enabled>"
        "<Format>Report_CSV_V1</Format><Prefix>reports</Prefix><ReportScope>AllTasks</ReportScope></Report>"
        f"<RoleArn>{COS_ROLE}</RoleArn></CreateJobRequest>"
    ).encode()
    answer = cos_request(server, "POST", "/jobs", body=body)
    assert answer.status == 200, answer.xml is not None and answer.text("Message")
    return str(answer.text("JobId"))


def read_report(s3: Any, reports: str, job_id: str) -> list[list[str]]:
    index = json.loads(s3.get_object(Bucket=reports, Key=f"reports/job-{job_id}/manifest.json")["Body"].read())
    rows: list[list[str]] = []
    for result in index["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
        rows += list(csv.reader(io.StringIO(body)))
    return rows


# --- the property ------------------------------------------------------------------------------


def check_run(s3: Any, run: Run) -> None:
    """The report has one row per manifest row, each naming its own key; the bucket changed exactly by the
    succeeded tasks' effects; a copy target holds exactly the succeeded keys, each with its own bytes."""
    case = run.case
    by_key: dict[str, list[str]] = {}
    invalid = []
    for row in run.report:
        if row[0] == "":
            invalid.append(row)
        else:
            assert unquote(row[1]) not in by_key, f"{case.name}: two report rows for {row[1]!r}"
            by_key[unquote(row[1])] = row
    assert sorted(by_key) == sorted(run.listed), f"{case.name}: report keys differ from the manifest"
    assert len(invalid) == len(BAD_LINES), f"{case.name}: {invalid}"
    for row in invalid:
        assert row[3:6] == ["failed", "InvalidManifestRow", "400"], row
    for row in by_key.values():
        if row[3] == "failed":  # a failure names its cause; never "run the job again" for a key's characters
            assert row[4] not in ("", "InternalError") and row[6], f"{case.name}: {row}"

    after = snapshot(s3, run.bucket, case.mark)
    succeeded = {key for key, row in by_key.items() if row[3] == "succeeded"}
    assert set(after) <= set(run.before), f"{case.name}: new objects {set(after) - set(run.before)}"
    for key, before in run.before.items():
        if key in succeeded:
            assert case.effect(after.get(key)), f"{case.name}: {key!r} succeeded but shows {after.get(key)}"
        else:
            assert after.get(key) == before, f"{case.name}: {key!r} was not acted on but changed"
    if case.name == "checksum":
        for key in succeeded:
            assert json.loads(by_key[key][6])["checksum_hex"] == hashlib.sha256(key.encode()).hexdigest().upper()
    if case.copies:
        assert run.target is not None
        copied = {
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=run.target)
            for o in page.get("Contents", [])
        }
        assert copied == succeeded, f"{case.name}: copied {copied ^ succeeded} wrongly"
        for key in copied:
            assert s3.get_object(Bucket=run.target, Key=key)["Body"].read() == key.encode()
    # Keys the store holds should all be acted on; a key it could not even create may fail (its own row only).
    failed_existing = {key for key in run.before if key in by_key and key not in succeeded}
    assert not failed_existing, f"{case.name}: existing objects failed: {[by_key[k] for k in failed_existing]}"


def check_generated_run(s3: Any, bucket: str, before: dict[str, State], report: list[list[str]]) -> None:
    """A tagging job over the bucket's listing tagged every object once, under its own key, and nothing else."""
    assert sorted(unquote(row[1]) for row in report) == sorted(before), "generated: report keys differ from the bucket"
    assert all(row[3] == "succeeded" for row in report), [row for row in report if row[3] != "succeeded"]
    after = snapshot(s3, bucket, None)
    assert {key: state.etag for key, state in after.items()} == {key: state.etag for key, state in before.items()}
    assert all(state.tags == frozenset({("project", "batchops")}) for state in after.values())


@dataclass
class Tally:
    keys: int = 0
    tasks: int = 0
    jobs: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # "operation code" → failed rows of listed keys


TALLY = Tally()


@pytest.fixture
def keys_server(start_server: Callable[..., Server]) -> Iterator[Server]:
    """A server per test (so on each job database: hostile keys reach the store's tables and listing cursors)."""
    yield start_server()
    print(
        f"\nhostile keys: {TALLY.keys} keys tried, {TALLY.tasks} tasks in {TALLY.jobs} jobs; failed rows {TALLY.failed}"
    )


def new_bucket(s3: Any, object_lock: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    return name


def run_every_operation(server: Server, s3: Any, listed: list[str]) -> None:
    """One job per operation over ``listed`` (plus the bad lines), side by side; then the property for each."""
    bystanders = set().union(*map(twins, listed)) - set(listed)
    reports = new_bucket(s3)
    runs: list[Run] = []
    for case in CASES:
        bucket = new_bucket(s3, case.object_lock)
        created = create_objects(s3, bucket, set(listed) | bystanders)
        target = new_bucket(s3) if case.copies else None
        runs.append(Run(case, bucket, target, listed, snapshot(s3, bucket, case.mark)))
        assert created == set(runs[-1].before), f"the store aliased keys: {created ^ set(runs[-1].before)}"
    for run in runs:
        key = f"manifests/{uuid.uuid4().hex}.csv"
        etag = s3.put_object(Bucket=reports, Key=key, Body=manifest_lines(run.bucket, listed))["ETag"].strip('"')
        if run.case.cos:
            run.job_id = create_cos_job(server, run.case, run.target, reports, etag, key)
        else:
            run.job_id = create_s3_job(server, run.case, run.target, reports, etag, key)
    control = server.client()
    listing_bucket = new_bucket(s3)  # the same keys reached through a ManifestGenerator's listing
    create_objects(s3, listing_bucket, set(listed) | bystanders)
    listed_before = snapshot(s3, listing_bucket, None)
    generated_job = generator_job(control, listing_bucket, reports)
    for run in runs:
        wait_status(control, run.job_id, "Complete")
        run.report = read_report(s3, reports, run.job_id)
    wait_status(control, generated_job, "Complete")
    generated_report = read_report(s3, reports, generated_job)
    TALLY.keys += len(listed) * len(CASES) + len(listed_before)
    TALLY.tasks += sum(len(run.report) for run in runs) + len(generated_report)
    TALLY.jobs += len(runs) + 1
    TALLY.failed.update(
        f"{run.case.name} {row[4]}" for run in runs for row in run.report if row[0] and row[3] == "failed"
    )
    for run in runs:
        check_run(s3, run)
    check_generated_run(s3, listing_bucket, listed_before, generated_report)


# --- items 1 and 2 exactly as reported -----------------------------------------------------------


def delete_job(server: Server, s3: Any, bucket: str, rows: list[str]) -> tuple[dict[str, Any], list[list[str]]]:
    reports = new_bucket(s3)
    key = f"manifests/{uuid.uuid4().hex}.csv"
    etag = s3.put_object(Bucket=reports, Key=key, Body=("\n".join(rows) + "\n").encode())["ETag"].strip('"')
    delete = next(case for case in CASES if case.name == "delete")
    job_id = create_s3_job(server, delete, None, reports, etag, key)
    return wait_status(server.client(), job_id, {"Complete", "Failed"}), read_report(s3, reports, job_id)


def listing(s3: Any, bucket: str) -> set[str]:
    return {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }


def test_a_delete_deletes_the_listed_carriage_return_key_not_its_newline_twin(keys_server: Server, s3: Any) -> None:
    # Given objects crlf\rkey and crlf\nkey
    bucket = new_bucket(s3)
    for key in ("crlf\rkey", "crlf\nkey"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # When a delete job lists only crlf%0Dkey
    job, report = delete_job(keys_server, s3, bucket, [f"{bucket},crlf%0Dkey"])
    # Then crlf\rkey is gone, crlf\nkey is left, and the row succeeded
    assert listing(s3, bucket) == {"crlf\nkey"}
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert [row[1:4] for row in report] == [["crlf%0Dkey", "", "succeeded"]]


def test_a_delete_job_over_two_buckets_deletes_each_key_on_its_listed_bucket_only(
    keys_server: Server, s3: Any
) -> None:
    # Given the same 30 keys on two buckets
    first, second = new_bucket(s3), new_bucket(s3)
    keys = [f"obj-{i:02d}" for i in range(30)]
    for bucket in (first, second):
        create_objects(s3, bucket, set(keys))
    # When one delete job lists the even keys on the first bucket and the odd ones on the second, interleaved
    listed = [(first if i % 2 == 0 else second, key) for i, key in enumerate(keys)]
    job, report = delete_job(keys_server, s3, first, [f"{bucket},{key}" for bucket, key in listed])
    # Then each bucket lost exactly its listed keys and kept the others
    assert listing(s3, first) == set(keys[1::2])
    assert listing(s3, second) == set(keys[0::2])
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 30
    assert sorted((row[0], row[1]) for row in report) == sorted(listed)


@pytest.mark.job_databases("sqlite", reason="the S3 clients' delete requests, not the store")
@pytest.mark.parametrize("client", ["lean", "botocore"])
def test_keys_xml_cannot_carry_do_not_fail_their_delete_batch(
    client: str, start_server: Callable[..., Server], s3: Any
) -> None:
    # Given 200 ordinary objects and two whose keys XML 1.0 cannot carry (%01 and U+FFFE)
    server = start_server(env={"BATCHOPS_S3_CLIENT": client})
    bucket = new_bucket(s3)
    keys = [f"obj-{i}" for i in range(200)] + ["ctl\x01key", "fffe\ufffekey"]
    create_objects(s3, bucket, set(keys))
    # When one delete job lists all 202
    job, report = delete_job(server, s3, bucket, [f"{bucket},{quote(k)}" for k in keys])
    # Then all 202 are deleted, each its own row
    assert listing(s3, bucket) == set()
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 202, report
    assert sorted(unquote(row[1]) for row in report) == sorted(keys)


# --- the hunt ------------------------------------------------------------------------------------


@settings(
    max_examples=SOAK_EXAMPLES if SOAK else 1,
    deadline=None,
    phases=[Phase.generate],  # a failing batch is reported as drawn: shrinking would re-run a dozen jobs a step
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
@given(drawn=st.lists(hostile_key, min_size=DRAWN, max_size=DRAWN, unique=True))
def test_hostile_keys_through_every_operation(keys_server: Server, s3: Any, drawn: list[str]) -> None:
    listed = sorted(set(FIXED) | set(drawn))
    run_every_operation(keys_server, s3, listed)


@pytest.mark.soak
@pytest.mark.timeout(3600)  # 25 batches of 13 jobs
def test_hostile_keys_soak(keys_server: Server, s3: Any) -> None:
    """``make soak``: the same property over ``SOAK_EXAMPLES`` drawn batches (the test above, with SOAK set)."""
    assert SOAK, "run through make soak (BATCHOPS_SOAK=1)"
    test_hostile_keys_through_every_operation(keys_server, s3)
