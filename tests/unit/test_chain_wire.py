"""Job chains on the S3 Control wire, through botocore with the overlay, and the chain a job's view is built from:
boto3's ``BatchOpsThen`` serialises a body the server parses into the steps; DescribeJob's ``BatchOpsThen`` and
``BatchOpsChain`` parse as the model's members; a later step's spec carries the rest of the chain; the view says
where the chain is and why it stopped."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.model import ServiceModel

from batchops.api.s3control_xml import render_describe_job
from batchops.aws_hooks import boto3_hook
from batchops.domain import chain
from batchops.domain.extras import JobExtras
from batchops.domain.job import FailureReason, Job, ManifestLocation, ManifestSpec, RateCaps
from batchops.domain.status import JobStatus
from batchops.store import codec
from tests.support.s3control_bodies import REGION, boto3_body, create, job_params, make_job, refusal

DELETE: dict[str, Any] = {"S3DeleteObject": {}}
COPY = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::target"}}
MANIFEST = ManifestSpec(
    "S3BatchOperations_CSV_20180820", ("Bucket", "Key"), ManifestLocation("arn:aws:s3:::r/m.csv", "e")
)


#: The s3control model with batchops's overlay, as boto3 has it after ``batchops.boto3_hook``.
MODEL = boto3_hook(botocore.session.Session()).get_service_model("s3control")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return MODEL  # type: ignore[no-any-return]


def chain_job(*then: dict[str, Any], **changes: Any) -> Job:
    """A job whose CreateJob (sent by boto3 with the overlay) names ``then`` as its follow-up steps."""
    request = botocore.serialize.create_serializer("rest-xml", include_validation=True).serialize_to_request(
        job_params(BatchOpsThen=list(then)), MODEL.operation_model("CreateJob")
    )
    spec, _ = create(request["body"])
    return replace(make_job(), spec=spec, **changes)


def test_the_steps_boto3_sends_are_the_ones_the_server_reads() -> None:
    spec = chain_job(COPY, DELETE).spec
    assert [step.name for step in spec.then] == ["S3PutObjectCopy", "S3DeleteObject"]
    assert "arn:aws:s3:::target" in spec.then[0].xml
    assert codec.spec_from_json(codec.spec_to_json(spec)) == spec


def test_a_job_without_steps_stores_what_it_stored_before_chains() -> None:
    spec, _ = create(boto3_body("CreateJob", job_params()))
    assert '"then"' not in codec.spec_to_json(spec) and '"chain"' not in codec.spec_to_json(spec)


@pytest.mark.parametrize(
    ("then", "says"),
    [
        ("<BatchOpsThen/>", "must hold at least one <Operation>"),
        ("<BatchOpsThen><Step/></BatchOpsThen>", "found <Step>"),
        ("<BatchOpsThen><Operation/></BatchOpsThen>", "exactly one operation element"),
        ("<BatchOpsThen><Operation><S3Nope/></Operation></BatchOpsThen>", "S3Nope"),
        ("<BatchOpsThen>" + "<Operation><S3DeleteObject/></Operation>" * 10 + "</BatchOpsThen>", "at most 10 steps"),
    ],
)
def test_a_bad_chain_is_refused_with_what_to_fix(then: str, says: str) -> None:
    body = boto3_body("CreateJob", job_params()).replace(b"</CreateJobRequest>", then.encode() + b"</CreateJobRequest>")
    assert says in refusal(body)


def test_the_next_step_carries_the_rest_of_the_chain_and_the_parents_settings_as_they_are_now() -> None:
    first = chain_job(COPY, DELETE)
    first = replace(first, priority=77, rate=RateCaps(None, 8))

    second = chain.next_spec(first, MANIFEST)

    assert (second.operation.name, [s.name for s in second.then]) == ("S3PutObjectCopy", ["S3DeleteObject"])
    assert (
        second.chain == chain.ChainLink(root_id=first.id, parent_id=first.id, step=2)
        if hasattr(chain, "ChainLink")
        else True
    )
    assert (second.priority, second.rate, second.manifest, second.confirmation_required) == (
        77,
        RateCaps(None, 8),
        MANIFEST,
        False,
    )
    assert second.client_request_token == chain.step_token(first.id) and len(second.client_request_token) <= 64
    third = chain.next_spec(replace(make_job(), id="job-0002", spec=second), MANIFEST)
    assert third.chain is not None and (third.chain.root_id, third.chain.parent_id, third.chain.step) == (
        first.id,
        "job-0002",
        3,
    )
    assert third.then == ()


def test_the_view_says_where_the_chain_is_and_why_it_stopped() -> None:
    first = chain_job(COPY, DELETE, status=JobStatus.COMPLETE)
    second_spec = chain.next_spec(first, MANIFEST)
    running = make_job(status=JobStatus.ACTIVE)
    running = replace(running, id="job-0002", spec=second_spec)

    shown = chain.view(first, [running], position=2)
    assert (shown.state, shown.position, shown.reason) == (chain.RUNNING, 2, None)
    assert [(s.number, s.operation, s.job_id) for s in shown.steps] == [
        (1, "S3PutObjectTagging", "job-0001"),
        (2, "S3PutObjectCopy", "job-0002"),
        (3, "S3DeleteObject", None),
    ]

    failed = replace(running, status=JobStatus.FAILED, status_update_reason="too many failures")
    stopped = chain.view(first, [failed], position=1)
    assert stopped.state == chain.STOPPED and "step 2 (S3PutObjectCopy, job job-0002) ended Failed" in str(
        stopped.reason
    )

    not_started = replace(first, failure_reasons=(FailureReason(chain.NEXT_STEP_FAILED, "its manifest was refused"),))
    assert "step 2 did not start: its manifest was refused" in str(chain.view(not_started, [], 1).reason)
    assert "succeeded on no task" in str(chain.view(first, [], 1).reason)


def test_describe_job_shows_the_chain_to_boto3_and_an_unmodified_model_skips_it(model: ServiceModel) -> None:
    first = chain_job(DELETE, status=JobStatus.COMPLETE)
    rendered = render_describe_job(first, region=REGION, extras=JobExtras(chain=chain.view(first, [], 1)))
    parser = botocore.parsers.create_parser("rest-xml")
    for used, overlaid in ((model, True), (botocore.session.Session().get_service_model("s3control"), False)):
        job = parser.parse(
            {"status_code": 200, "headers": {}, "body": rendered}, used.operation_model("DescribeJob").output_shape
        )["Job"]
        assert job["JobId"] == "job-0001"
        if not overlaid:
            assert "BatchOpsChain" not in job
            continue
        assert job["BatchOpsThen"] == [DELETE]
        assert job["BatchOpsChain"]["State"] == "Stopped" and job["BatchOpsChain"]["Position"] == 1
        assert job["BatchOpsChain"]["Steps"][1] == {"Number": 2, "Operation": "S3DeleteObject"}
