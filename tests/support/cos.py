"""The COS dialect over raw HTTP: ONE request helper signed by the COS SDK's signer, bodies, and error checks.

``cos_request`` signs with the official COS SDK (``qcloud_cos.cos_auth.CosS3Auth``), so the tests keep working
once signatures are verified.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from unittest import mock
from xml.etree.ElementTree import Element

import requests
from qcloud_cos import CosConfig
from qcloud_cos.cos_auth import CosS3Auth

from batchops.xmlutil import parse_xml
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server

ROLE = "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole"


@dataclass
class Answer:
    status: int
    headers: Any
    xml: Element | None

    def text(self, path: str) -> str | None:
        assert self.xml is not None
        return self.xml.findtext(path)


def cos_request(
    server: Server,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    appid: str | None = ACCOUNT,
    *,
    keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY),
    expire: int = 10000,
    signed_params: dict[str, str] | None = None,
    signed_at: float | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One COS request signed by the SDK's CosS3Auth; the answer's XML parsed.

    ``keys`` signs with another SecretId/SecretKey, ``signed_params`` signs other parameters than those sent,
    ``signed_at`` signs with another clock (Unix seconds), ``expire`` sets the signature's lifetime.
    """
    sent = {"Content-Type": "application/xml", **(headers or {})}
    if appid is not None:
        sent["x-cos-appid"] = appid
    config = CosConfig(Region=REGION, SecretId=keys[0], SecretKey=keys[1])
    signed = (params or {}) if signed_params is None else signed_params
    auth = CosS3Auth(config, key=path, params=signed, expire=expire)
    with mock.patch("qcloud_cos.cos_auth.time.time", return_value=signed_at or time.time()):
        response = requests.request(
            method, server.url + path, params=params, data=body, headers=sent, auth=auth, timeout=30
        )
    xml = parse_xml(response.content) if response.content else None
    return Answer(response.status_code, response.headers, xml)


def put_cos_manifest(s3: Any, bucket: str, rows: list[str]) -> tuple[str, str]:
    """A COSBatchOperations_CSV_V1 manifest; returns its qcs ObjectArn and ETag."""
    key = f"manifests/{uuid.uuid4().hex}.csv"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(rows) + "\n").encode())["ETag"]
    return f"qcs::cos:ap-chengdu::{bucket}/{key}", etag


def create_body(
    arn: str,
    etag: str,
    operation: str,
    *,
    report_bucket: str | None = None,
    confirmation: bool = False,
    token: str | None = None,
    priority: int = 10,
    manifest_format: str = "COSBatchOperations_CSV_V1",
) -> bytes:
    report = "<Report><Enabled>false</Enabled></Report>"
    fields = (
        "<Fields><member>Bucket</member><member>Key</member></Fields>" if manifest_format.endswith("CSV_V1") else ""
    )
    if report_bucket:
        report = (
            f"<Report><Bucket>qcs::cos:ap-chengdu:uid/{ACCOUNT}:{report_bucket}</Bucket><Enabled>true</Enabled>"
            "<Format>Report_CSV_V1</Format><Prefix>cos-reports</Prefix><ReportScope>AllTasks</ReportScope></Report>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><CreateJobRequest>'
        f"<ClientRequestToken>{token or uuid.uuid4()}</ClientRequestToken>"
        f"<ConfirmationRequired>{'true' if confirmation else 'false'}</ConfirmationRequired>"
        "<Description>cos job</Description>"
        f"<Manifest><Location><ETag>{etag}</ETag><ObjectArn>{arn}</ObjectArn></Location>"
        f"<Spec>{fields}<Format>{manifest_format}</Format></Spec></Manifest>"
        f"<Operation>{operation}</Operation><Priority>{priority}</Priority>{report}<RoleArn>{ROLE}</RoleArn>"
        "</CreateJobRequest>"
    ).encode()


def create_cos_job(server: Server, body: bytes) -> str:
    answer = cos_request(server, "POST", "/jobs", body=body)
    assert answer.status == 200, answer.xml is not None and answer.text("Message")
    job_id = answer.text("JobId")
    assert job_id
    return job_id


def assert_cos_error(answer: Answer, status: int, code: str, text: str = "") -> None:
    assert answer.status == status
    assert answer.xml is not None and answer.xml.tag == "Error"
    assert [el.tag for el in answer.xml] == ["Code", "Message", "Resource", "RequestId", "TraceId"]
    assert answer.text("Code") == code, answer.text("Message")
    assert text in (answer.text("Message") or "")
    assert answer.headers["Server"] == "tencent-cos" and answer.headers["x-cos-request-id"]


TAGGING = "<COSPutObjectTagging><TagSet><COSTag><Key>k</Key><Value>v</Value></COSTag></TagSet></COSPutObjectTagging>"
