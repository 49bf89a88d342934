"""Manifests other than a plain CSV: S3 inventories as S3 writes them, and jobs with a manifest generator."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from typing import Any

from tests.support.jobs import TAGGING
from tests.support.server import ACCOUNT


def csv_gz(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return gzip.compress(text.getvalue().encode())


def put_inventory(
    s3: Any,
    bucket: str,
    data_files: list[bytes],
    *,
    file_format: str = "CSV",
    schema: str = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
    folder: str | None = None,
    extension: str = "csv.gz",
    md5_of: Any = None,
    checksum: str | None = None,
) -> dict[str, str]:
    """An inventory as S3 writes it (data files, manifest.json, manifest.checksum); its Manifest.Location."""
    folder = folder or f"inventory/{bucket}/daily/{uuid.uuid4().hex[:8]}"
    files = []
    for number, body in enumerate(data_files):
        key = f"{folder}/data/{uuid.uuid4()}.{extension}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        md5 = (md5_of or (lambda b: hashlib.md5(b).hexdigest()))(body)
        files.append({"key": key, "size": len(body), "MD5checksum": md5, "number": number})
    for entry in files:
        del entry["number"]
    manifest = json.dumps(
        {
            "sourceBucket": bucket,
            "destinationBucket": f"arn:aws:s3:::{bucket}",
            "version": "2016-11-30",
            "creationTimestamp": "1514944800000",
            "fileFormat": file_format,
            "fileSchema": schema,
            "files": files,
        }
    ).encode()
    s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.checksum", Body=checksum or hashlib.md5(manifest).hexdigest())
    etag = s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.json", Body=manifest)["ETag"]
    return {"ObjectArn": f"arn:aws:s3:::{bucket}/{folder}/manifest.json", "ETag": etag}


def report(bucket: str) -> dict[str, Any]:
    return {
        "Enabled": True,
        "Bucket": f"arn:aws:s3:::{bucket}",
        "Format": "Report_CSV_20180820",
        "Prefix": "reports",
        "ReportScope": "AllTasks",
    }


def generator_job(control: Any, source: str, reports: str, *, all_versions: bool = False, **generator: Any) -> str:
    """A CreateJob with a ManifestGenerator; ``all_versions`` adds our extension element to the signed body."""
    spec = {"SourceBucket": f"arn:aws:s3:::{source}", "EnableManifestOutput": False, **generator}
    if all_versions:
        control.meta.events.register_first("before-sign.s3-control.CreateJob", include_all_versions)
    try:
        response = control.create_job(
            AccountId=ACCOUNT,
            ConfirmationRequired=False,
            Operation=TAGGING,
            Report=report(reports),
            ManifestGenerator={"S3JobManifestGenerator": spec},
            Priority=10,
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        )
    finally:
        control.meta.events.unregister("before-sign.s3-control.CreateJob", include_all_versions)
    return str(response["JobId"])


def include_all_versions(request: Any, **_: Any) -> None:
    """boto3 has no parameter for our extension: add the element to the body before it is signed."""
    marker = b"</S3JobManifestGenerator>"
    request.data = request.data.replace(
        marker, b"<BatchOpsIncludeAllVersions>true</BatchOpsIncludeAllVersions>" + marker
    )
    request.headers["Content-Length"] = str(len(request.data))
