"""The retry extension on the S3 Control wire, through botocore with the overlay: boto3's
``batch_ops_retry_job`` serialises a body the server's parser reads exactly, its answer parses, and the links
DescribeJob answers parse as the model's members (an unmodified model skips them)."""

from __future__ import annotations

from dataclasses import replace

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.model import ServiceModel

from batchops.api.s3control_retry import parse_retry
from batchops.api.s3control_xml import render_describe_job, render_retry
from batchops.aws_hooks import boto3_hook
from batchops.domain.extras import JobExtras
from batchops.domain.job import RateCaps
from batchops.domain.retry import RetryLinks
from batchops.errors import ValidationError
from batchops.service.retry import RetryManifest, RetryRequest, retry_spec
from tests.support.s3control_bodies import ACCOUNT, REGION, make_job


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return boto3_hook(botocore.session.Session()).get_service_model("s3control")  # type: ignore[no-any-return]


def _serialised(model: ServiceModel, **params: object) -> dict[str, object]:
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=True)
    request = {"AccountId": ACCOUNT, "JobId": "job-0001", **params}
    return serializer.serialize_to_request(request, model.operation_model("BatchOpsRetryJob"))  # type: ignore[no-any-return]


def test_boto3_names_the_operation_batch_ops_retry_job(model: ServiceModel) -> None:
    from botocore import xform_name

    assert xform_name("BatchOpsRetryJob") == "batch_ops_retry_job"
    assert "BatchOpsRetryJob" in model.operation_names


def test_the_request_boto3_sends_is_the_one_the_server_reads(model: ServiceModel) -> None:
    sent = _serialised(model, ClientRequestToken="tok-1", ErrorCodes=["NoSuchKey", "Access,Denied <&>"])
    assert sent["method"] == "POST"
    assert sent["url_path"] == "/v20180820/jobs/job-0001/batchops-retry"
    body = sent["body"]
    assert isinstance(body, bytes)
    retry = parse_retry("job-0001", body)
    assert (retry.client_request_token, retry.error_codes) == ("tok-1", ("NoSuchKey", "Access,Denied <&>"))


def test_a_request_without_codes_retries_every_failure_with_the_token_sent(model: ServiceModel) -> None:
    body = _serialised(model, ClientRequestToken="tok-2")["body"]
    assert isinstance(body, bytes)
    assert parse_retry("job-0001", body).error_codes == ()
    assert parse_retry("job-0001", b"").client_request_token  # an empty body gets a token of its own


def test_an_unknown_element_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="Codes"):
        parse_retry("job-0001", b"<RetryJobRequest><Codes/></RetryJobRequest>")


def test_the_answer_parses_to_the_new_job_id(model: ServiceModel) -> None:
    parser = botocore.parsers.create_parser("rest-xml")
    output = model.operation_model("BatchOpsRetryJob").output_shape
    answer = parser.parse({"status_code": 200, "headers": {}, "body": render_retry("job-0002")}, output)
    assert answer["JobId"] == "job-0002"


def test_describe_job_links_parse_both_ways(model: ServiceModel) -> None:
    links = RetryLinks(retry_of="job-0000", retries=("job-0002", "job-0003"))
    rendered = render_describe_job(make_job(), region=REGION, extras=JobExtras(links=links))
    parser = botocore.parsers.create_parser("rest-xml")
    for used, expected in ((model, links), (botocore.session.Session().get_service_model("s3control"), None)):
        job = parser.parse(
            {"status_code": 200, "headers": {}, "body": rendered}, used.operation_model("DescribeJob").output_shape
        )["Job"]
        assert job["JobId"] == "job-0001"
        if expected is None:  # botocore without the overlay reads the rest of the job and skips the links
            assert "BatchOpsRetryOf" not in job
        else:
            assert job["BatchOpsRetryOf"] == "job-0000"
            assert job["BatchOpsRetries"] == ["job-0002", "job-0003"]


def test_a_job_without_links_says_nothing_of_them() -> None:
    rendered = render_describe_job(make_job(), region=REGION, extras=JobExtras(links=RetryLinks()))
    assert b"BatchOpsRetr" not in rendered


def test_a_retry_runs_with_the_parents_caps_and_priority_as_they_are_now_not_as_created() -> None:
    parent = make_job()
    parent = replace(parent, spec=replace(parent.spec, rate=RateCaps(20, 4)), rate=RateCaps(None, 8), priority=77)
    where = RetryManifest("arn:aws:s3:::reports", "reports", "job-0001/retries/x.csv")

    spec = retry_spec(parent, RetryRequest(parent.id, "token"), where, '"etag"', versioned=False)

    assert spec.rate == RateCaps(None, 8)
    assert spec.priority == 77
    assert spec.manifest is not None and spec.manifest.location.etag == "etag"
