"""Job tags through boto3: Tags in CreateJob, GetJobTagging / PutJobTagging / DeleteJobTagging, and the limits."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.http import error_code, signed_request
from tests.support.jobs import TAGGING, create_job, put_manifest
from tests.support.server import ACCOUNT

pytestmark = pytest.mark.integration


def tags(count: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"Key": f"{prefix}{i}", "Value": f"v{i}"} for i in range(count)]


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def job(control: Any, s3: Any, new_bucket: Any) -> str:
    bucket = new_bucket()
    return create_job(control, put_manifest(s3, bucket, [f"{bucket},k"]), TAGGING, confirmation=True, Tags=tags(2))


def test_tags_given_at_create_then_replaced_then_deleted(control: Any, job: str) -> None:
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == tags(2)
    control.put_job_tagging(AccountId=ACCOUNT, JobId=job, Tags=tags(50, "n"))
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == tags(50, "n")
    control.delete_job_tagging(AccountId=ACCOUNT, JobId=job)
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == []


def test_an_empty_put_removes_every_tag(control: Any, job: str) -> None:
    control.put_job_tagging(AccountId=ACCOUNT, JobId=job, Tags=[])
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == []


def test_more_than_50_tags(control: Any, job: str, s3: Any, new_bucket: Any) -> None:
    code, status, message = error_of(lambda: control.put_job_tagging(AccountId=ACCOUNT, JobId=job, Tags=tags(51)))
    assert (code, status) == ("TooManyTagsException", 400)
    assert "at most 50" in message
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == tags(2)
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},k"])
    code, status, _ = error_of(lambda: create_job(control, location, TAGGING, Tags=tags(51)))
    assert (code, status) == ("TooManyTagsException", 400)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ([{"Key": "k" * 129, "Value": "v"}], "1 to 128"),
        ([{"Key": "k", "Value": "v" * 257}], "0 to 256"),
        ([{"Key": "k", "Value": "a"}, {"Key": "k", "Value": "b"}], "duplicate tag keys"),
        ([{"Key": "k<", "Value": "v"}], "allow letters"),
    ],
)
def test_tag_rules(control: Any, job: str, bad: list[dict[str, str]], says: str) -> None:
    code, status, message = error_of(lambda: control.put_job_tagging(AccountId=ACCOUNT, JobId=job, Tags=bad))
    assert (code, status) == ("BadRequestException", 400)
    assert says in message


def test_an_empty_key_sent_raw(server: Any, job: str) -> None:
    # botocore refuses an empty key itself; other clients may not
    body = b"<PutJobTaggingRequest><Tags><member><Key></Key><Value>v</Value></member></Tags></PutJobTaggingRequest>"
    status, reply = signed_request(server.url, "PUT", f"/v20180820/jobs/{job}/tagging", body)
    assert (status, error_code(reply)) == (400, "BadRequestException")
    assert b"Key is required" in reply


def test_longest_key_and_value_are_fine(control: Any, job: str) -> None:
    longest = [{"Key": "k" * 128, "Value": "v" * 256}, {"Key": "empty", "Value": ""}]
    control.put_job_tagging(AccountId=ACCOUNT, JobId=job, Tags=longest)
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job)["Tags"] == longest


def test_tags_of_a_missing_job(control: Any) -> None:
    for call in (
        lambda: control.get_job_tagging(AccountId=ACCOUNT, JobId="no-such-job"),
        lambda: control.put_job_tagging(AccountId=ACCOUNT, JobId="no-such-job", Tags=tags(1)),
        lambda: control.delete_job_tagging(AccountId=ACCOUNT, JobId="no-such-job"),
    ):
        assert error_of(call)[:2] == ("NotFoundException", 404)
