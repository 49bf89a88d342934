"""``batchops job``'s errors, without a server: every one is a single ``error: …`` line on stderr."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from batchops.cli_jobs import job, total_text

NOWHERE = ["--url", "http://127.0.0.1:9"]  # never called: each command below fails before any request


def run(*args: str) -> Result:
    return CliRunner().invoke(job, list(args), env={"BATCHOPS_ACCOUNT_ID": "123456789012"})


def one_line(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["update-priority", "j", "9999999999", *NOWHERE], "Invalid value for 'PRIORITY'"),
        (["update-status", "j", "--requested-job-status", "Active", *NOWHERE], "'Active' is not one of"),
        (["update-status", "j", *NOWHERE], "Missing option '--requested-job-status'"),
        (["wait", *NOWHERE], "Missing argument 'JOB_ID'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_usage_errors_are_one_error_line_naming_the_help(args: list[str], said: str) -> None:
    line = one_line(run(*args), 2)
    assert said in line
    assert line.endswith("--help`")


def test_an_operation_error_is_the_same_kind_of_line() -> None:
    result = run("create", "--operation-json", "[1]", "--manifest-arn", "arn:aws:s3:::b/m.csv", *NOWHERE)
    assert "--operation-json must be an object with one operation" in one_line(result, 2)


def test_a_malformed_account_id_is_named_not_taken_for_an_unreachable_server() -> None:
    line = one_line(run("list", "--account-id", "12345", *NOWHERE), 1)
    assert line.startswith("error: account id '12345' is not 12 digits")
    assert "cannot reach" not in line


@pytest.mark.parametrize(
    ("found", "shown"),
    [
        ({"Status": "Preparing", "ProgressSummary": {"TotalNumberOfTasks": 0}}, "…"),
        ({"Status": "Failed", "ProgressSummary": {"TotalNumberOfTasks": 0}}, "0"),
        ({"Status": "Failed"}, "0"),
        ({"Status": "Complete", "ProgressSummary": {}}, "0"),
        ({"Status": "Active", "ProgressSummary": {"TotalNumberOfTasks": 7}}, "7"),
    ],
)
def test_the_bar_never_shows_a_total_of_none(found: dict[str, object], shown: str) -> None:
    assert total_text(found) == shown


def test_the_operation_json_example_sets_a_tag_rather_than_stripping_them_all() -> None:
    result = CliRunner().invoke(job, ["create", "--help"], terminal_width=400)
    assert '"TagSet": []' not in result.output
    assert '{"Key": "project", "Value": "blue"}' in " ".join(result.output.split())
