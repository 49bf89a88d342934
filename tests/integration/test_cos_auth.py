"""COS requests against a running server: signatures made by the COS SDK's signer, refusals in COS's dialect,
and two accounts (APPIDs) that cannot see or change each other's jobs through the COS API.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.cos import assert_cos_error, cos_request
from tests.support.jobs import put_manifest, put_objects
from tests.support.server import Server
from tests.support.tenancy import CONFIG, KEYS, A, B, client, create

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="signatures are checked at the edge, before the store"),
]

APPID_A, APPID_B = "1250000001", B  # B declares no appid: it answers to its account id


@pytest.fixture
def tenants(start_server: Any, tmp_path: Path) -> Server:
    config = tmp_path / "accounts.toml"
    config.write_text(CONFIG)
    server: Server = start_server("--config", str(config))
    return server


def as_a(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    return cos_request(server, method, path, **{"appid": APPID_A, "keys": KEYS[A], **kwargs})


def test_the_sdk_signature_is_accepted(tenants: Server) -> None:
    answer = as_a(tenants, "GET", "/jobs", params={"maxResults": "5"})
    assert answer.status == 200 and answer.xml is not None and answer.xml.tag == "ListJobsResult"


def test_a_wrong_secret_id_or_secret_key(tenants: Server) -> None:
    unknown = cos_request(tenants, "GET", "/jobs", appid=APPID_A, keys=("AKID-NOBODY", KEYS[A][1]))
    assert_cos_error(unknown, 403, "InvalidAccessKeyId", "AKID-NOBODY")
    wrong = cos_request(tenants, "GET", "/jobs", appid=APPID_A, keys=(KEYS[A][0], "not-the-secret"))
    assert_cos_error(wrong, 403, "SignatureDoesNotMatch", "check the SecretKey")


def test_a_parameter_changed_after_signing(tenants: Server) -> None:
    answer = as_a(tenants, "GET", "/jobs", params={"maxResults": "7"}, signed_params={"maxResults": "5"})
    assert_cos_error(answer, 403, "SignatureDoesNotMatch")


def test_a_body_that_does_not_match_its_signed_content_md5(tenants: Server) -> None:
    answer = as_a(
        tenants, "POST", "/jobs", body=b"<CreateJobRequest/>", headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}
    )
    assert_cos_error(answer, 400, "BadDigest", "Content-MD5")


@pytest.mark.parametrize(("offset", "expire", "text"), [(-7200, 600, "expired"), (3600, 600, "not valid yet")])
def test_expired_and_future_signatures(tenants: Server, offset: int, expire: int, text: str) -> None:
    answer = as_a(tenants, "GET", "/jobs", signed_at=time.time() + offset, expire=expire)
    assert_cos_error(answer, 403, "AccessDenied", text)


def test_missing_authorization_and_missing_appid(tenants: Server) -> None:
    unsigned = requests.get(f"{tenants.url}/jobs", headers={"x-cos-appid": APPID_A}, timeout=30)
    assert unsigned.status_code == 403 and b"<Code>AccessDenied</Code>" in unsigned.content
    assert_cos_error(as_a(tenants, "GET", "/jobs", appid=None), 400, "InvalidArgument", "x-cos-appid")


def test_an_appid_that_is_not_the_signers(tenants: Server) -> None:
    answer = cos_request(tenants, "GET", "/jobs", appid=APPID_B, keys=KEYS[A])
    assert_cos_error(answer, 403, "AccessDenied", APPID_A)


def test_one_appid_cannot_see_or_change_anothers_jobs(tenants: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["k"])
    location = put_manifest(s3, bucket, [f"{bucket},k"])
    job_id = create(client(tenants, A), A, location)  # waits for confirmation
    assert as_a(tenants, "GET", f"/jobs/{job_id}").status == 200

    def as_b(method: str, path: str, **kwargs: Any) -> Any:
        return cos_request(tenants, method, path, appid=APPID_B, keys=KEYS[B], **kwargs)

    listing = as_b("GET", "/jobs")
    assert listing.status == 200 and job_id not in str(listing.xml and [e.text for e in listing.xml.iter("JobId")])
    assert_cos_error(as_b("GET", f"/jobs/{job_id}"), 404, "NoSuchJob")
    assert_cos_error(as_b("POST", f"/jobs/{job_id}/priority", params={"priority": "9"}), 404, "NoSuchJob")
    refused = as_b("POST", f"/jobs/{job_id}/status", params={"requestedJobStatus": "Cancelled"})
    assert_cos_error(refused, 404, "NoSuchJob")
    after = as_a(tenants, "GET", f"/jobs/{job_id}")
    assert after.text("Job/Priority") == "10" and after.text("Job/Status") != "Cancelled"
