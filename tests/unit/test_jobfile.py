"""Job files (``batchops.jobfile``): the schema's errors name their YAML path, variables, the token, the examples,
and ``batchops job apply --dry-run`` / ``Client.apply(dry_run=True)``, which need no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from batchops import jobfile
from batchops.api import s3control
from batchops.cli_jobs import job
from batchops.client import CREATED_HEADER, Client
from batchops.jobfile import JobFileError, load, request_token
from batchops.operations.registry import supported_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_VARIABLES = {
    "BUCKET": "photos",
    "TARGET_BUCKET": "copies",
    "RETAIN_UNTIL": "2030-01-01T00:00:00Z",
    "FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:thumbnails",
}
MINIMAL = """
manifest: {arn: "arn:aws:s3:::manifests/objects.csv"}
operation:
  S3PutObjectTagging:
    TagSet: [{Key: project, Value: blue}]
"""
NO_ENV: dict[str, str] = {}


def loaded(text: str, variables: dict[str, str] | None = None, **kwargs: Any) -> jobfile.JobFile:
    return load(text + "\n", variables, environ=NO_ENV, **kwargs)


def refused(text: str, **kwargs: Any) -> str:
    with pytest.raises(JobFileError) as info:
        loaded(text, **kwargs)
    return str(info.value)


# --- the examples -------------------------------------------------------------------------------


def test_there_is_one_example_per_operation_batchops_runs() -> None:
    operations = [next(iter(yaml.safe_load(path.read_text())["operation"])) for path in EXAMPLES.glob("*.yaml")]
    assert sorted(operations) == supported_names()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_example_is_valid_and_its_first_line_applies_it(path: Path) -> None:
    found = load(path, EXAMPLE_VARIABLES, environ=NO_ENV)
    assert found.create_arguments["manifest_generator"]["SourceBucket"] == "arn:aws:s3:::photos"
    assert found.create_arguments["client_request_token"] == found.token
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith(f"# batchops job apply examples/{path.name} --var BUCKET=")
    named = {part.split("=")[0] for part in first_line.split("--var ")[1:]}
    assert named == {name for name in EXAMPLE_VARIABLES if "${" + name + "}" in path.read_text()}


# --- the schema's errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (MINIMAL.replace("Key: project, ", ""), "operation.S3PutObjectTagging.TagSet[0].Key: required; add it"),
        (MINIMAL.replace("Value: blue", "Value: 2024"), "TagSet[0].Value: 2024 is not a string; quote it: '2024'"),
        (MINIMAL.replace("TagSet: [", "Tags: ["), "operation.S3PutObjectTagging.Tags: unknown key; use one of TagSet"),
        (MINIMAL.replace("S3PutObjectTagging", "S3PutObjectTaging"), "operation: S3PutObjectTaging is not an "),
        (MINIMAL + "priority: high", "priority: 'high' is not a whole number from 0 to 2147483647"),
        (MINIMAL + "colour: blue", "colour: unknown key; use one of version, account,"),
        (MINIMAL + "report: {prefix: r}", "report.bucket: required; give the bucket (name or ARN)"),
        (MINIMAL + "report: {bucket: r, scope: Some}", "report.scope: 'Some' is not a report scope"),
        (MINIMAL + "rate: {max_tasks_in_flight: 0}", "rate.max_tasks_in_flight: give a whole number of tasks, 1 or"),
        (MINIMAL + "failure_threshold: {percent: 120}", "failure_threshold.percent: 120 is not a percentage"),
        (MINIMAL + "confirmation_required: maybe", "confirmation_required: 'maybe' is not true or false"),
        (MINIMAL + "account: 1234", "account: '1234' is not a 12-digit account id; quote it"),
        (MINIMAL + "version: 2", "version: 2 is not a version this batchops reads; write version: 1"),
        ("operation: {BatchOpsNoOp: {}}", "manifest: required; e.g. manifest: {file: objects.csv"),
        ("manifest: {arn: a}", "operation: required; e.g. operation: {S3PutObjectTagging"),
        (
            "manifest: {arn: a}\noperation: {S3PutObjectLegalHold: {LegalHold: {Status: MAYBE}}}",
            "operation.S3PutObjectLegalHold.LegalHold.Status: 'MAYBE' is not one of OFF, ON",
        ),
        (
            "manifest: {arn: a, file: b.csv}\noperation: {BatchOpsNoOp: {}}",
            "manifest.file: ",
        ),
        (
            "manifest: {arn: a, generator: {SourceBucket: x, EnableManifestOutput: false}}\n"
            "operation: {BatchOpsNoOp: {}}",
            "manifest: give exactly one of file (with bucket), arn or generator",
        ),
        (
            "manifest: {generator: {SourceBucket: x}}\noperation: {BatchOpsNoOp: {}}",
            "manifest.generator.EnableManifestOutput: required; add it",
        ),
        ("manifest: {arn: a}\noperation: {BatchOpsNoOp: {Fast: true}}", "operation.BatchOpsNoOp: takes no settings"),
        ("- a list", "(top): a job file is a YAML mapping"),
        ("operation: [", "line 2, column 1: not valid YAML"),
    ],
)
def test_each_schema_error_names_its_yaml_path_and_the_fix(text: str, said: str) -> None:
    message = refused(text)
    assert message.startswith("<job file>: ")
    assert said in message


def test_a_manifest_file_is_read_relative_to_the_job_file_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "objects.csv").write_text("photos,a.jpg\n")
    job_file = tmp_path / "tag.yaml"
    job_file.write_text(
        MINIMAL.replace('{arn: "arn:aws:s3:::manifests/objects.csv"}', "{file: objects.csv, bucket: m}")
    )
    arguments = load(job_file, environ=NO_ENV).create_arguments
    assert arguments["manifest_file"] == tmp_path / "objects.csv"
    assert arguments["manifest_bucket"] == "m"
    # the same key on every apply, so that a second apply sends the same request
    assert arguments["manifest_key"] == f"manifests/{arguments['client_request_token']}-objects.csv"
    (tmp_path / "objects.csv").unlink()
    with pytest.raises(JobFileError, match=rf"^{job_file}: manifest.file: {tmp_path}/objects.csv is not a file"):
        load(job_file, environ=NO_ENV)


def test_the_settings_map_onto_create_job() -> None:
    extra = (
        "priority: 42\nconfirmation_required: true\ndescription: d\nrole_arn: arn:aws:iam::123456789012:role/r\n"
        "tags: {team: storage, year: 2026}\nreport: {bucket: r, prefix: p, scope: FailedTasksOnly}\n"
        "rate: {max_requests_per_second: 50, max_tasks_in_flight: 8}\nfailure_threshold: {min_tasks: 10, percent: 5}"
    )
    arguments = loaded(MINIMAL + extra).create_arguments
    assert {key: value for key, value in arguments.items() if key != "client_request_token"} == {
        "operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "blue"}]}},
        "manifest_arn": "arn:aws:s3:::manifests/objects.csv",
        "manifest_etag": None,
        "manifest_fields": ["Bucket", "Key"],
        "priority": 42,
        "confirmation_required": True,
        "description": "d",
        "role_arn": "arn:aws:iam::123456789012:role/r",
        "tags": {"team": "storage", "year": "2026"},
        "report_bucket": "r",
        "report_prefix": "p",
        "report_scope": "FailedTasksOnly",
        "max_requests_per_second": 50.0,
        "max_tasks_in_flight": 8,
        "failure_threshold": {"MinTasks": 10, "Percent": 5},
    }


def test_a_date_stays_the_string_written() -> None:
    text = "manifest: {arn: a}\noperation: {S3PutObjectRetention: {Retention: {RetainUntilDate: 2030-01-01}}}"
    assert loaded(text).create_arguments["operation"]["S3PutObjectRetention"]["Retention"] == {
        "RetainUntilDate": "2030-01-01"
    }


@pytest.mark.parametrize(
    ("key", "value", "passed"),
    [("then", "[{S3DeleteObjectTagging: }]", [{"S3DeleteObjectTagging": {}}]), ("dry_run", "true", True)],
)
def test_the_keys_a_later_create_job_takes_pass_only_when_it_takes_them(key: str, value: str, passed: Any) -> None:
    text = MINIMAL + f"{key}: {value}"
    assert refused(text) == f"<job file>: {key}: not supported by this version of batchops; remove {key}: or upgrade"
    assert loaded(text, accepts={key}).create_arguments[key] == passed


@pytest.mark.parametrize(
    ("then", "said"),
    [
        ("[]", "then: must be a list of operations"),
        ("[S3DeleteObjectTagging]", "then[0]: must be a mapping; each is one operation"),
        (
            "[{BatchOpsNoOp: {}}, {S3PutObjectTagging: {TagSet: [{Key: k}]}}]",
            "then[1].S3PutObjectTagging.TagSet[0].Value: required",
        ),
    ],
)
def test_each_operation_of_a_chain_is_checked_as_operation_is(then: str, said: str) -> None:
    assert said in refused(MINIMAL + f"then: {then}", accepts={"then"})


# --- variables ----------------------------------------------------------------------------------


def test_variables_come_from_the_caller_then_the_environment() -> None:
    text = MINIMAL.replace("blue", '"${COLOUR}-${SHADE}"') + "description: costs $${DOLLARS}"
    found = load(text, {"COLOUR": "red"}, environ={"COLOUR": "green", "SHADE": "dark"})
    assert found.create_arguments["operation"]["S3PutObjectTagging"]["TagSet"][0]["Value"] == "red-dark"
    assert found.create_arguments["description"] == "costs ${DOLLARS}"


def test_an_unset_variable_is_named_with_its_path_and_how_to_set_it() -> None:
    message = refused(MINIMAL.replace("blue", '"${COLOUR}"'))
    assert message == (
        "<job file>: operation.S3PutObjectTagging.TagSet[0].Value: variable ${COLOUR} is not set; "
        "set it in the environment or pass --var COLOUR=VALUE"
    )
    assert "${a b} is not a variable name" in refused(MINIMAL.replace("blue", '"${a b}"'))


# --- the token ----------------------------------------------------------------------------------


def test_the_token_is_the_content_s_hash_and_fits_client_request_token() -> None:
    token = loaded(MINIMAL).token
    assert token.startswith(jobfile.TOKEN_PREFIX) and len(token) == 64
    int(token.removeprefix(jobfile.TOKEN_PREFIX), 16)  # hex
    reordered = """
# the same job, written differently
operation: {S3PutObjectTagging: {TagSet: [{Value: blue, Key: project}]}}
manifest:
    arn: arn:aws:s3:::manifests/objects.csv
dry_run: false
"""
    assert loaded(reordered, accepts={"dry_run"}).token == token


def test_a_change_or_another_variable_value_makes_another_token() -> None:
    template = MINIMAL.replace("blue", '"${COLOUR}"')
    blue, red = (loaded(template, {"COLOUR": colour}).token for colour in ("blue", "red"))
    assert blue != red
    assert blue == loaded(MINIMAL).token
    assert loaded(MINIMAL + "priority: 11").token != blue


def test_the_local_manifest_s_bytes_are_part_of_the_token() -> None:
    document = yaml.safe_load(MINIMAL)
    assert request_token(document, b"photos,a\n") == request_token(document, b"photos,a\n")
    assert request_token(document, b"photos,a\n") != request_token(document, b"photos,b\n")


# --- Client.apply and `batchops job apply`, dry run (no server) ---------------------------------


def client(account: str = "123456789012") -> Client:
    return Client("http://127.0.0.1:9", account, "AKIA", "secret")


def test_client_apply_dry_run_sends_nothing_and_shows_the_arguments() -> None:
    applied = client().apply(MINIMAL, dry_run=True)
    assert applied.job_id is None and not applied.created
    assert applied.request["client_request_token"] == applied.token == loaded(MINIMAL).token


def test_client_apply_refuses_a_file_for_another_account() -> None:
    with pytest.raises(JobFileError) as info:
        client("999999999999").apply(MINIMAL + 'account: "123456789012"', dry_run=True)
    assert str(info.value) == (
        "<job file>: account: the file is for account 123456789012, you connect as 999999999999; "
        "pass --account-id 123456789012 (or change account: in the file)"
    )


def test_cli_apply_dry_run_prints_the_request(tmp_path: Path) -> None:
    job_file = tmp_path / "tag.yaml"
    job_file.write_text(MINIMAL.replace("blue", '"${COLOUR}"'))
    result = CliRunner().invoke(
        job, ["apply", str(job_file), "--dry-run", "--var", "COLOUR=red", "--output", "json", "--url", "http://x:9"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["CreateJobArguments"]["operation"]["S3PutObjectTagging"]["TagSet"][0]["Value"] == "red"
    assert shown["ClientRequestToken"] == shown["CreateJobArguments"]["client_request_token"]


def test_cli_apply_errors_are_one_line_with_the_file_and_yaml_path(tmp_path: Path) -> None:
    job_file = tmp_path / "tag.yaml"
    job_file.write_text(MINIMAL.replace("blue", '"${COLOUR}"'))
    result = CliRunner().invoke(job, ["apply", str(job_file), "--dry-run"], env={"COLOUR": None})
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {job_file}: operation.S3PutObjectTagging.TagSet[0].Value: variable ${{COLOUR}} is not set; "
        "set it in the environment or pass --var COLOUR=VALUE"
    ]
    bad_var = CliRunner().invoke(job, ["apply", str(job_file), "--var", "COLOUR"])
    assert bad_var.stderr.strip() == "error: --var takes KEY=VALUE, not 'COLOUR'; see `job apply --help`"


def test_the_client_reads_the_header_the_server_sets() -> None:
    assert CREATED_HEADER == s3control.CREATED_HEADER
    assert (s3control.created_header(True), s3control.created_header(False)) == ("true", "false")
