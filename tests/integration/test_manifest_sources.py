"""Every manifest source end to end through the S3 Control API: inventories (CSV, Parquet, ORC, COS layout),
checksums, the manifest generator with each filter, its saved manifest, and object versions."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from tests.support.jobs import TAGGING, create_job, describe, put_manifest, read_report, wait_for, wait_status
from tests.support.manifests import csv_gz, generator_job, put_inventory, report
from tests.support.server import ACCOUNT

pytestmark = pytest.mark.integration

INVENTORY = "S3InventoryReport_CSV_20161130"
TAG = [{"Key": "project", "Value": "batchops"}]


# --- arranging objects and inventories -------------------------------------------------------


def put_objects(s3: Any, bucket: str, keys: list[str], **extra: Any) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), **extra), keys))


def columnar_file(file_format: str, rows: list[tuple[str, str]]) -> bytes:
    table = pa.table(
        {
            "bucket": [b for b, _ in rows],
            "key": [k for _, k in rows],
            "size": [len(k) for _, k in rows],
        }
    )
    sink = io.BytesIO()
    if file_format == "Parquet":
        pq.write_table(table, sink, row_group_size=7)  # several row groups: read batch by batch
    else:
        orc.write_table(table, sink)
    return sink.getvalue()


def inventory_job(control: Any, location: dict[str, str], reports: str) -> str:
    response = control.create_job(
        AccountId=ACCOUNT,
        ConfirmationRequired=False,
        Operation=TAGGING,
        Report=report(reports),
        Manifest={"Spec": {"Format": INVENTORY}, "Location": location},
        Priority=10,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
    )
    return str(response["JobId"])


def reported(s3: Any, reports: str, job_id: str) -> dict[str, list[str]]:
    """Report rows by URL-encoded key (and version id, when the row has one)."""
    _, rows = read_report(s3, reports, job_id)
    return {row[1] + (f"@{row[2]}" if row[2] else ""): row for row in rows}


def tagged(s3: Any, bucket: str, key: str, version_id: str | None = None) -> bool:
    extra = {"VersionId": version_id} if version_id else {}
    return bool(s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"] == TAG)


# --- S3 inventory ----------------------------------------------------------------------------


def test_csv_inventory_job_reads_every_data_file(control: Any, s3: Any, new_bucket: Any) -> None:
    # Given 30 objects (one with a space, a plus and unicode) listed in a two-file gzip CSV inventory
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"data/obj-{i:02d}" for i in range(29)] + ["odd dir/ü+1.txt"]
    put_objects(s3, bucket, keys)
    rows = [[bucket, quote(k), str(len(k)), "2024-01-01T00:00:00.000Z", "etag", "STANDARD"] for k in keys]
    location = put_inventory(s3, bucket, [csv_gz(rows[:13]), csv_gz(rows[13:])])
    # When a tagging job runs on the inventory
    job_id = inventory_job(control, location, reports)
    job = wait_status(control, job_id, "Complete")
    # Then every listed object is tagged, once, and reported
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 30
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 30
    assert job["Manifest"]["Spec"]["Format"] == INVENTORY
    rows_by_key = reported(s3, reports, job_id)
    assert set(rows_by_key) == {quote(k) for k in keys}
    assert all(row[0] == bucket and row[3] == "succeeded" for row in rows_by_key.values())
    assert all(tagged(s3, bucket, k) for k in keys)


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_columnar_inventory_job(file_format: str, control: Any, s3: Any, new_bucket: Any) -> None:
    # Given 25 objects listed in a Parquet or ORC inventory of two files (keys not URL-encoded there)
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"col/{i:02d} x" for i in range(24)] + ["col/ü+%.txt"]
    put_objects(s3, bucket, keys)
    pairs = [(bucket, k) for k in keys]
    files = [columnar_file(file_format, pairs[:10]), columnar_file(file_format, pairs[10:])]
    schema = "message s3.inventory { required binary bucket; required binary key; optional int64 size; }"
    location = put_inventory(s3, bucket, files, file_format=file_format, schema=schema, extension=file_format.lower())
    job = wait_status(control, inventory_job(control, location, reports), "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 25
    assert set(reported(s3, reports, job["JobId"])) == {quote(k) for k in keys}
    assert all(tagged(s3, bucket, k) for k in keys)


@pytest.mark.parametrize("broken", ["data file", "manifest.checksum"])
def test_checksum_mismatch_fails_the_job_with_a_clear_reason(
    broken: str, control: Any, s3: Any, new_bucket: Any
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, ["a", "b"])
    data = [csv_gz([[bucket, "a", "1", "", "", ""], [bucket, "b", "1", "", "", ""]])]
    if broken == "data file":
        location = put_inventory(s3, bucket, data, md5_of=lambda _b: "0" * 32)
    else:
        location = put_inventory(s3, bucket, data, checksum="f" * 32 + "\n")
    job = wait_status(control, inventory_job(control, location, reports), "Failed")
    failure = job["FailureReasons"][0]
    assert failure["FailureCode"] == "InventoryChecksumMismatch"
    assert ("0" * 32 if broken == "data file" else "f" * 32) in failure["FailureReason"]
    assert not tagged(s3, bucket, "a")  # nothing ran


def test_cos_inventory_layout(control: Any, s3: Any, new_bucket: Any) -> None:
    # COS inventories: <prefix>/<appid>/<bucket>/<inventory-id>/<YYYYMMDD>/manifest.json, CSV columns
    # AppID, Bucket (the name without -appid), Key, ... ; the bucket is addressed as <name>-<appid>.
    app_id = "1250000000"
    bucket, reports = new_bucket(), new_bucket()
    name = bucket.removesuffix(f"-{app_id}")
    cos_bucket = f"{name}-{app_id}"
    s3.create_bucket(Bucket=cos_bucket)
    keys = ["photos/1.jpg", "photos/2 b.jpg"]
    put_objects(s3, cos_bucket, keys)
    rows = [[app_id, name, quote(k), "", "true", "false", "1"] for k in keys]
    location = put_inventory(
        s3,
        cos_bucket,
        [csv_gz(rows)],
        schema="AppID, Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
        folder=f"cos_bucket_inventory/{app_id}/{name}/inv-1/20240102",
    )
    job = wait_status(control, inventory_job(control, location, reports), "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    # The inventory has a VersionId column: an empty one is the object's "null" version
    rows_by_key = reported(s3, reports, job["JobId"])
    assert set(rows_by_key) == {f"{quote(k)}@null" for k in keys}
    assert all(row[0] == cos_bucket for row in rows_by_key.values())
    assert all(tagged(s3, cos_bucket, k) for k in keys)


# --- the manifest generator ------------------------------------------------------------------


def last_modified(s3: Any, bucket: str, key: str) -> datetime:
    return s3.head_object(Bucket=bucket, Key=key)["LastModified"].astimezone(UTC)  # type: ignore[no-any-return]


def test_generator_applies_each_filter(control: Any, s3: Any, new_bucket: Any) -> None:
    # Given objects of several prefixes, suffixes, sizes and storage classes, written in two batches
    source, reports = new_bucket(), new_bucket()
    early = ["logs/a.txt", "logs/b.csv", "img/c.txt"]
    put_objects(s3, source, early)
    first_done = max(last_modified(s3, source, k) for k in early)
    wait_for(lambda: datetime.now(UTC) >= first_done + timedelta(seconds=1.1), what="the clock to pass a second")
    late = ["img/d-archive.bin", "x/logs-e.txt"]
    put_objects(s3, source, late)
    s3.put_object(Bucket=source, Key="big/f.txt", Body=b"x" * 5000, StorageClass="STANDARD_IA")
    everything = {*early, *late, "big/f.txt"}
    cutoff = first_done + timedelta(milliseconds=500)
    cases: dict[str, tuple[dict[str, Any], set[str]]] = {
        "all": ({}, everything),
        "created after": ({"CreatedAfter": cutoff}, {*late, "big/f.txt"}),
        "created before": ({"CreatedBefore": cutoff}, set(early)),
        "prefix": ({"KeyNameConstraint": {"MatchAnyPrefix": ["logs/"]}}, {"logs/a.txt", "logs/b.csv"}),
        "suffix": ({"KeyNameConstraint": {"MatchAnySuffix": [".txt"]}}, {k for k in everything if k.endswith(".txt")}),
        "substring": (
            {"KeyNameConstraint": {"MatchAnySubstring": ["logs"]}},
            {"logs/a.txt", "logs/b.csv", "x/logs-e.txt"},
        ),
        "size greater": ({"ObjectSizeGreaterThanBytes": 1000}, {"big/f.txt"}),
        "size less": ({"ObjectSizeLessThanBytes": 11}, {k for k in everything - {"big/f.txt"} if len(k) < 11}),
        "storage class": ({"MatchAnyStorageClass": ["STANDARD_IA", "GLACIER"]}, {"big/f.txt"}),
        "combined": (
            {
                "KeyNameConstraint": {"MatchAnySuffix": [".txt"]},
                "CreatedAfter": cutoff,
                "MatchAnyStorageClass": ["STANDARD"],
            },
            {"x/logs-e.txt"},
        ),
    }
    # When one generator job runs per filter
    jobs = {name: generator_job(control, source, reports, Filter=rules) for name, (rules, _) in cases.items()}
    # Then each job acted on exactly the objects its filter keeps
    for name, (_, expected) in cases.items():
        job = wait_status(control, jobs[name], "Complete")
        assert set(reported(s3, reports, jobs[name])) == {quote(k) for k in expected}, name
        assert job["ProgressSummary"]["TotalNumberOfTasks"] == len(expected), name
        assert "Manifest" not in job
        assert job["ManifestGenerator"]["S3JobManifestGenerator"]["SourceBucket"] == f"arn:aws:s3:::{source}"
    assert describe(control, jobs["prefix"])["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"] == {
        "KeyNameConstraint": {"MatchAnyPrefix": ["logs/"]}
    }


def test_generator_saves_its_manifest_which_is_itself_a_usable_inventory(
    control: Any, s3: Any, new_bucket: Any
) -> None:
    # Given 2,500 objects: the listing takes several pages and the job several chunks
    source, out, reports = new_bucket(), new_bucket(), new_bucket()
    keys = [f"k/{i:05d}" for i in range(2500)]
    put_objects(s3, source, keys)
    output = {
        "Bucket": f"arn:aws:s3:::{out}",
        "ManifestPrefix": "generated",
        "ManifestFormat": "S3InventoryReport_CSV_20211130",
    }
    job_id = generator_job(
        control,
        source,
        reports,
        EnableManifestOutput=True,
        ManifestOutputLocation=output,
        Filter={"KeyNameConstraint": {"MatchAnySubstring": ["1"]}},
    )
    job = wait_status(control, job_id, "Complete")
    expected = {k for k in keys if "1" in k}
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(expected)
    assert set(reported(s3, reports, job_id)) == expected
    # Then DescribeJob names the saved manifest, an inventory-style manifest.json listing gzip CSV files
    descriptor = job["GeneratedManifestDescriptor"]
    assert descriptor["Format"] == "S3InventoryReport_CSV_20211130"
    assert descriptor["Location"]["ObjectArn"] == f"arn:aws:s3:::{out}/generated/job-{job_id}/manifest.json"
    index = json.loads(s3.get_object(Bucket=out, Key=f"generated/job-{job_id}/manifest.json")["Body"].read())
    assert index["fileSchema"] == "Bucket, Key"
    listed = []
    for entry in index["files"]:
        body = s3.get_object(Bucket=out, Key=entry["key"])["Body"].read()
        assert hashlib.md5(body).hexdigest() == entry["MD5checksum"]
        listed += [row[1] for row in csv.reader(io.StringIO(gzip.decompress(body).decode()))]
    assert sorted(listed) == sorted(expected)
    # And a new job can use the saved manifest as an S3 inventory manifest
    again = inventory_job(control, descriptor["Location"], reports)
    assert wait_status(control, again, "Complete")["ProgressSummary"]["NumberOfTasksSucceeded"] == len(expected)


# --- versions --------------------------------------------------------------------------------


def versioned_bucket(s3: Any, new_bucket: Any) -> tuple[str, dict[str, list[str]]]:
    """A bucket with a pre-versioning object ("null" version) and keys of two versions each."""
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="old", Body=b"0")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions: dict[str, list[str]] = {"old": ["null"]}
    for key in ("a", "b c"):
        versions[key] = [s3.put_object(Bucket=bucket, Key=key, Body=str(n).encode())["VersionId"] for n in range(2)]
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")  # a delete marker: not an object to act on
    versions["gone"] = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix="gone")["Versions"]]
    return bucket, versions


def test_csv_manifest_with_version_ids_acts_on_exactly_those_versions(control: Any, s3: Any, new_bucket: Any) -> None:
    (bucket, versions), reports = versioned_bucket(s3, new_bucket), new_bucket()
    chosen = [("a", versions["a"][0]), ("b c", versions["b c"][1]), ("old", "null")]
    rows = [f"{bucket},{quote(k)},{v}" for k, v in chosen]
    job_id = create_job(
        control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports, fields=["Bucket", "Key", "VersionId"]
    )
    wait_status(control, job_id, "Complete")
    assert set(reported(s3, reports, job_id)) == {f"{quote(k)}@{v}" for k, v in chosen}
    assert tagged(s3, bucket, "a", versions["a"][0]) and not tagged(s3, bucket, "a", versions["a"][1])
    assert tagged(s3, bucket, "b c", versions["b c"][1]) and not tagged(s3, bucket, "b c", versions["b c"][0])
    assert tagged(s3, bucket, "old", "null")


def test_generator_with_all_versions_acts_on_every_version(control: Any, s3: Any, new_bucket: Any) -> None:
    (bucket, versions), reports = versioned_bucket(s3, new_bucket), new_bucket()
    job_id = generator_job(control, bucket, reports, all_versions=True)
    job = wait_status(control, job_id, "Complete")
    assert job["ManifestGenerator"]["S3JobManifestGenerator"]["SourceBucket"] == f"arn:aws:s3:::{bucket}"
    expected = {f"{quote(k)}@{v}" for k, vs in versions.items() for v in vs}
    assert set(reported(s3, reports, job_id)) == expected
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(expected)
    assert all(tagged(s3, bucket, k, v) for k, vs in versions.items() for v in vs if k != "gone")
    # Without the extension only the current versions are listed (and the deleted key not at all)
    current = generator_job(control, bucket, reports)
    wait_status(control, current, "Complete")
    assert set(reported(s3, reports, current)) == {"a", quote("b c"), "old"}


# --- crash safety ----------------------------------------------------------------------------


def test_kill_9_while_preparing_a_generated_manifest_resumes_without_loss_or_duplicates(
    start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any
) -> None:
    source, out = new_bucket(), new_bucket()
    keys = [f"r/{i:05d}" for i in range(3000)]
    put_objects(s3, source, keys)
    data_dir = tmp_path / "crash"
    env = {"BATCHOPS_CHUNK_SIZE": "100"}
    server = start_server(data_dir=data_dir, env=env)
    control = server.client()
    output = {"Bucket": f"arn:aws:s3:::{out}", "ManifestFormat": "S3InventoryReport_CSV_20211130"}
    job_id = str(
        control.create_job(
            AccountId=ACCOUNT,
            ConfirmationRequired=True,  # stops in Suspended once prepared: the task list can be checked
            Operation=TAGGING,
            Report={"Enabled": False},
            ManifestGenerator={
                "S3JobManifestGenerator": {
                    "SourceBucket": f"arn:aws:s3:::{source}",
                    "EnableManifestOutput": True,
                    "ManifestOutputLocation": output,
                }
            },
            Priority=10,
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        )["JobId"]
    )
    # When the server is killed while the listing is being turned into tasks
    progress = wait_for(
        lambda: (
            (j := describe(control, job_id))["Status"] != "New" and j["ProgressSummary"]["TotalNumberOfTasks"] > 0 and j
        ),
        timeout=60,
        interval=0.01,
        what="preparing to start",
    )
    server.kill9()
    assert progress["Status"] == "Preparing" and progress["ProgressSummary"]["TotalNumberOfTasks"] < 3000
    control = start_server(data_dir=data_dir, env=env).client()
    job = wait_status(control, job_id, "Suspended")
    # Then the task list is exact, and so is the saved manifest
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 3000, progress
    index = json.loads(s3.get_object(Bucket=out, Key=f"job-{job_id}/manifest.json")["Body"].read())
    listed = []
    for entry in index["files"]:
        body = gzip.decompress(s3.get_object(Bucket=out, Key=entry["key"])["Body"].read()).decode()
        listed += [row[1] for row in csv.reader(io.StringIO(body))]
    assert listed == keys
