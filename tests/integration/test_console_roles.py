"""The console acts where a job's RoleArn acts: report files and manifest uploads on the role's store, with its keys.

Two accounts whose API keys are not store keys (as the README configures accounts): one's role carries the test
store's keys, the other's names a second SeaweedFS with keys of its own. A report is read, and a manifest is
uploaded, on that role's store — the one the engine writes the report to and reads the manifest from.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from batchops.devstore import LocalSeaweed
from tests.support.jobs import describe, put_manifest, wait_status
from tests.support.s3 import ACCESS_KEY, OTHER_KEY, OTHER_SECRET, SECRET_KEY
from tests.support.server import Server, s3control_client

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="the console's report and upload pages: the edge"),
]


@dataclass(frozen=True)
class Tenant:
    """An account with API keys of its own and one role; ``store`` names the fixture of its role's store."""

    account_id: str
    access_key: str
    secret_key: str
    role: str
    store: str

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.role}"


ON_TEST_STORE = Tenant("111111111111", "AKID-CONSOLE-A", "api-secret-of-a-4b1f", "main", "s3")
ON_OTHER_STORE = Tenant("222222222222", "AKID-CONSOLE-B", "api-secret-of-b-8e2a", "elsewhere", "other_s3")
TENANTS = [
    pytest.param(ON_TEST_STORE, id="role-on-the-test-store"),
    pytest.param(ON_OTHER_STORE, id="role-on-a-second-store"),
]


def config(other: LocalSeaweed) -> str:
    return f"""
[[accounts]]
id = "{ON_TEST_STORE.account_id}"
access_key_id = "{ON_TEST_STORE.access_key}"
secret_access_key = "{ON_TEST_STORE.secret_key}"
[[accounts.roles]]
arn = "{ON_TEST_STORE.role_arn}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"

[[accounts]]
id = "{ON_OTHER_STORE.account_id}"
access_key_id = "{ON_OTHER_STORE.access_key}"
secret_access_key = "{ON_OTHER_STORE.secret_key}"
[[accounts.roles]]
arn = "{ON_OTHER_STORE.role_arn}"
endpoint = "{other.endpoint}"
access_key_id = "{OTHER_KEY}"
secret_access_key = "{OTHER_SECRET}"
"""


@pytest.fixture
def server(start_server: Any, other_seaweed: LocalSeaweed, tmp_path: Path) -> Server:
    path = tmp_path / "accounts.toml"
    path.write_text(config(other_seaweed))
    return start_server("--config", str(path))  # type: ignore[no-any-return]


def role_store(request: pytest.FixtureRequest, tenant: Tenant) -> Any:
    """A boto3 client on the tenant's role's store, with the store's own keys (to arrange and check objects)."""
    return request.getfixturevalue(tenant.store)


def fresh_bucket(store: Any, objects: list[str]) -> str:
    bucket = f"c-{uuid.uuid4().hex[:20]}"
    store.create_bucket(Bucket=bucket)
    for key in objects:
        store.put_object(Bucket=bucket, Key=key, Body=b"payload")
    return bucket


def signed_in(server: Server, tenant: Tenant) -> tuple[httpx.Client, str]:
    """A console session signed in with the tenant's API keys, and its CSRF token."""
    client = httpx.Client(base_url=f"{server.url}/console", follow_redirects=False, timeout=60)
    answer = client.post(
        "/login",
        data={"identity": tenant.access_key, "secret": tenant.secret_key, "csrf_token": csrf_of(client.get("/login"))},
    )
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client.get("/jobs/new"))


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in the page: {page.status_code} {page.text[:500]}"
    return match.group(1)


def report_keys(page: str) -> list[str]:
    return [unquote(key) for key in re.findall(r'/report\?key=([^"]+)"', page)]


@pytest.mark.parametrize("tenant", TENANTS)
def test_the_report_is_listed_and_downloads_from_the_roles_store(
    server: Server, tenant: Tenant, request: pytest.FixtureRequest
) -> None:
    store = role_store(request, tenant)
    bucket = fresh_bucket(store, ["a", "b"])
    control = s3control_client(server.url, tenant.access_key, tenant.secret_key)
    job_id = control.create_job(
        AccountId=tenant.account_id,
        ConfirmationRequired=False,
        Operation={"S3DeleteObjectTagging": {}},
        Report={
            "Enabled": True,
            "Bucket": f"arn:aws:s3:::{bucket}",
            "Format": "Report_CSV_20180820",
            "Prefix": "reports",
            "ReportScope": "AllTasks",
        },
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": put_manifest(store, bucket, [f"{bucket},a", f"{bucket},b"]),
        },
        Priority=10,
        RoleArn=tenant.role_arn,
    )["JobId"]
    wait_status(control, job_id, "Complete", account=tenant.account_id)
    client, _ = signed_in(server, tenant)

    page = client.get(f"/jobs/{job_id}")

    assert page.status_code == 200
    assert "not readable" not in page.text, page.text
    keys = report_keys(page.text)
    assert len(keys) == 2, keys  # manifest.json and the succeeded tasks' CSV
    assert keys[0].endswith("/manifest.json") and keys[1].endswith(".csv"), keys
    for key in keys:
        answer = client.get(f"/jobs/{job_id}/report", params={"key": key})
        assert answer.status_code == 200, answer.text
        assert answer.content == store.get_object(Bucket=bucket, Key=key)["Body"].read()
    results = client.get(f"/jobs/{job_id}/report", params={"key": keys[1]}).text
    assert f"{bucket},a," in results and f"{bucket},b," in results and "succeeded" in results


@pytest.mark.parametrize("tenant", TENANTS)
def test_a_manifest_upload_lands_where_the_jobs_role_reads_it(
    server: Server, tenant: Tenant, request: pytest.FixtureRequest
) -> None:
    store = role_store(request, tenant)
    bucket = fresh_bucket(store, ["a"])
    manifest = f"{bucket},a\n".encode()
    client, token = signed_in(server, tenant)
    fields = {
        "csrf_token": token,
        "client_request_token": str(uuid.uuid4()),
        "manifest_source": "upload",
        "upload_bucket": bucket,
        "manifest_fields": "Bucket,Key",
        "operation": "S3DeleteObjectTagging",
        "priority": "10",
        "role_arn": tenant.role_arn,
        "confirmation_required": "on",
        "report_enabled": "on",
        "report_bucket": bucket,
        "report_prefix": "reports",
        "report_scope": "AllTasks",
    }

    answer = client.post("/jobs/new", data=fields, files={"manifest_file": ("m.csv", manifest, "text/csv")})

    assert answer.status_code == 303, answer.text[:3000]
    job_id = answer.headers["location"].rsplit("/", 1)[-1]
    control = s3control_client(server.url, tenant.access_key, tenant.secret_key)
    job = wait_status(control, job_id, "Suspended", account=tenant.account_id)  # the engine read it with the role
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    arn = describe(control, job_id, tenant.account_id)["Manifest"]["Location"]["ObjectArn"]
    key = arn.removeprefix(f"arn:aws:s3:::{bucket}/")
    assert key.startswith("manifests/") and key.endswith("-m.csv"), arn
    assert store.get_object(Bucket=bucket, Key=key)["Body"].read() == manifest


def test_an_upload_naming_an_undeclared_role_is_refused_on_the_role_field(server: Server) -> None:
    client, token = signed_in(server, ON_TEST_STORE)
    fields = {
        "csrf_token": token,
        "manifest_source": "upload",
        "upload_bucket": "any-bucket",
        "manifest_fields": "Bucket,Key",
        "operation": "S3DeleteObjectTagging",
        "priority": "10",
        "role_arn": f"arn:aws:iam::{ON_TEST_STORE.account_id}:role/undeclared",
    }

    answer = client.post("/jobs/new", data=fields, files={"manifest_file": ("m.csv", b"b,k\n", "text/csv")})

    assert answer.status_code == 400
    assert re.search(r'data-testid="error-role_arn"[^>]*>[^<]*role/undeclared is not declared', answer.text), (
        answer.text[:3000]
    )
