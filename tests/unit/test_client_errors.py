"""batchops.Client turns every botocore failure into one ClientError with a one-line message (no network)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from batchops.client import Client, ClientError, CredentialsRefused, RequestRefused

JOB = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def client() -> Client:
    return Client("http://127.0.0.1:9", "123456789012", "key", "secret", s3_endpoint="http://127.0.0.1:9")


def refuse(client: Client, operation: str, code: str, status: int, message: str) -> Stubber:
    stubber = Stubber(client._control)
    stubber.add_client_error(operation, service_error_code=code, service_message=message, http_status_code=status)
    stubber.activate()
    return stubber


@pytest.mark.parametrize("code", ["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"])
def test_credential_codes_say_which_options_to_check(client: Client, code: str) -> None:
    refuse(client, "describe_job", code, 403, "nope")
    with pytest.raises(CredentialsRefused) as refused:
        client.describe_job(JOB)
    message = str(refused.value)
    assert f"refused the credentials ({code}: nope)" in message
    assert "--account-id 123456789012" in message and "--secret-access-key" in message


def test_a_refused_transition_keeps_the_servers_words(client: Client) -> None:
    refuse(client, "update_job_status", "JobStatusException", 400, f"job {JOB} is Complete;\n accepted only while…")
    with pytest.raises(RequestRefused) as refused:
        client.cancel(JOB)
    assert str(refused.value) == f"job {JOB} is Complete; accepted only while…"  # one line
    assert refused.value.code == "JobStatusException"


def test_every_refusal_is_the_servers_words_alone_its_code_apart(client: Client) -> None:
    # update-priority and update-status print their refusals alike: no code in front of one of them only
    refuse(client, "update_job_priority", "BadRequestException", 400, f"job {JOB} has already ended (Complete)")
    with pytest.raises(RequestRefused, match=rf"^job {JOB} has already ended \(Complete\)$") as refused:
        client.update_priority(JOB, 5)
    assert refused.value.code == "BadRequestException"


def test_every_client_error_is_a_batchops_error(client: Client) -> None:
    refuse(client, "list_jobs", "InternalServiceException", 500, "boom")
    with pytest.raises(ClientError):
        client.list_jobs()


def test_a_missing_manifest_file_is_named(client: Client) -> None:
    with pytest.raises(RequestRefused, match=r"manifest file /no/such\.csv does not exist"):
        client.create_job(operation={"S3DeleteObject": {}}, manifest_file="/no/such.csv", manifest_bucket="b")
    with pytest.raises(RequestRefused, match="give the bucket to upload the manifest file to"):
        client.create_job(operation={"S3DeleteObject": {}}, manifest_file="/no/such.csv")


@pytest.mark.parametrize(("url", "s3_endpoint"), [("not a url", None), ("http://127.0.0.1:9", "(SeaweedFS):")])
def test_an_invalid_endpoint_is_a_client_error_not_a_traceback(url: str, s3_endpoint: str | None) -> None:
    with pytest.raises(ClientError, match=r"Invalid endpoint.*--s3-endpoint"):
        Client(url, "123456789012", "key", "secret", s3_endpoint=s3_endpoint)


@pytest.mark.parametrize("account_id", ["12345", "1234567890123", "12345678901a", ""])
def test_an_account_id_that_is_not_12_digits_is_named_not_taken_for_an_unreachable_server(account_id: str) -> None:
    # Unchecked, boto3 would put it in front of the host name and report the server unreachable.
    with pytest.raises(RequestRefused, match=rf"account id '{account_id}' is not 12 digits.*--account-id") as refused:
        Client("http://127.0.0.1:9", account_id, "key", "secret")
    assert refused.value.code == "InvalidAccountId"
