"""``batchops job …``: manage jobs on a running batchops server from a terminal (through batchops.Client)."""

from __future__ import annotations

import functools
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY
from batchops.domain.status import TERMINAL, USER_REQUESTS, JobStatus
from batchops.errors import BatchOpsError

if TYPE_CHECKING:
    from batchops.client import Client

#: The statuses ``--status`` accepts, in lifecycle order.
STATUSES = tuple(status.value for status in JobStatus)
_ENDED = frozenset(status.value for status in TERMINAL)

_CONNECTION = (
    click.option(
        "--url",
        envvar="BATCHOPS_URL",
        default="http://127.0.0.1:8080",
        show_default=True,
        help="The batchops server [env BATCHOPS_URL].",
    ),
    click.option(
        "--account-id",
        envvar="BATCHOPS_ACCOUNT_ID",
        default="123456789012",
        show_default=True,
        help="Your 12-digit account id [env BATCHOPS_ACCOUNT_ID].",
    ),
    click.option("--access-key-id", envvar="AWS_ACCESS_KEY_ID", help="[env AWS_ACCESS_KEY_ID]"),
    click.option("--secret-access-key", envvar="AWS_SECRET_ACCESS_KEY", help="[env AWS_SECRET_ACCESS_KEY]"),
    click.option("--region", envvar="AWS_REGION", default="us-east-1", show_default=True, help="[env AWS_REGION]"),
    click.option(
        "--s3-endpoint",
        envvar="BATCHOPS_S3_ENDPOINT",
        help="The object store, for manifest uploads and reports [env BATCHOPS_S3_ENDPOINT].",
    ),
    click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True),
)


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, exit code 1 (2 for a usage error, as click has it), no traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class OneLineErrors(click.Group):
    """Usage errors (a bad option or argument, an unknown command) print as the one ``error: …`` line every
    other error prints, instead of click's usage block and ``Error:``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            fail(f"{_one_line(exc.format_message()).rstrip('.')}; see `{path} --help`", 2)
        except click.ClickException as exc:
            fail(_one_line(exc.format_message()))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def with_client(command: Callable[..., None]) -> Callable[..., None]:
    """Add the connection options and pass ``client`` and ``output`` to the command; errors become one line."""

    @functools.wraps(command)
    def run(
        url: str,
        account_id: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        s3_endpoint: str | None,
        output: str,
        **arguments: Any,
    ) -> None:
        from batchops.client import Client

        try:
            client = Client(url, account_id, access_key_id, secret_access_key, region, s3_endpoint)
            command(client, output, **arguments)
        except BatchOpsError as exc:
            fail(str(exc))

    for option in reversed(_CONNECTION):
        run = option(run)
    return run


@click.group(cls=OneLineErrors)
def job() -> None:
    """Create, list, inspect, confirm, cancel and wait for jobs on a running batchops server."""


# --- create ---------------------------------------------------------------------------------


@job.command()
@click.option(
    "--operation-json",
    help='The Operation, as boto3 takes it, e.g. \'{"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": '
    "\"blue\"}]}}' (sets each object's tags to project=blue) or '{\"S3DeleteObject\": {}}'.",
)
@click.option("--put-object-tag", multiple=True, metavar="KEY=VALUE", help="Shortcut for an S3PutObjectTagging job.")
@click.option("--manifest-arn", help="The manifest already in the store: arn:aws:s3:::bucket/key.csv.")
@click.option("--manifest-etag", help="Its ETag (looked up in the store when not given).")
@click.option("--manifest-file", type=click.Path(path_type=Path, dir_okay=False), help="A local CSV manifest.")
@click.option("--manifest-bucket", help="Where --manifest-file is uploaded first.")
@click.option("--manifest-key", help="The key to upload --manifest-file as [default manifests/<random>-<name>].")
@click.option("--manifest-fields", default="Bucket,Key", show_default=True, help="Bucket,Key or Bucket,Key,VersionId.")
@click.option("--report-bucket", help="Bucket (name or ARN) for the completion report; none: no report.")
@click.option("--report-prefix", help="Key prefix of the report.")
@click.option("--report-scope", type=click.Choice(["AllTasks", "FailedTasksOnly"]), default="AllTasks")
@click.option("--priority", type=click.IntRange(MIN_PRIORITY, MAX_PRIORITY), default=10, show_default=True)
@click.option("--description", help="Up to 256 characters.")
@click.option("--role-arn", help="[default arn:aws:iam::<account>:role/batchops]")
@click.option(
    "--confirmation-required/--no-confirmation-required",
    default=True,
    show_default=True,
    help="Wait Suspended for `update-status JOB --requested-job-status Ready` (as the console does), or run at once.",
)
@click.option("--client-request-token", help="Idempotency token [default: a new UUID].")
@click.option("--tag", multiple=True, metavar="KEY=VALUE", help="A tag on the job itself.")
@click.option("--max-requests-per-second", type=float, help="Cap on the job's S3 requests a second [default: none].")
@click.option("--max-tasks-in-flight", type=int, help="Cap on the job's tasks running at once [default: none].")
@click.option(
    "--then-json",
    "then",
    multiple=True,
    metavar="OPERATION",
    help="A chain: a step to run over the tasks that succeeded, once the job before it completes (repeatable, "
    'in order), as --operation-json takes it, e.g. --then-json \'{"S3DeleteObject": {}}\'.',
)
@click.option(
    "--dry-run", is_flag=True, help="Check every task and change nothing; the report says what each would do."
)
@click.option("--webhook-url", help="POST each status change of the job here (http or https), signed.")
@click.option(
    "--webhook-secret",
    envvar="BATCHOPS_WEBHOOK_SECRET",
    help="The secret that signs them (8-256 characters) [env BATCHOPS_WEBHOOK_SECRET, kept out of `ps`].",
)
@with_client
def create(client: Client, output: str, **options: Any) -> None:
    """Create a job; prints its id."""
    if bool(options["webhook_url"]) != bool(options["webhook_secret"]):
        raise click.UsageError("give both --webhook-url and --webhook-secret (or BATCHOPS_WEBHOOK_SECRET), or neither")
    job_id = client.create_job(
        operation=_operation(options["operation_json"], options["put_object_tag"]),
        manifest_arn=options["manifest_arn"],
        manifest_etag=options["manifest_etag"],
        manifest_file=options["manifest_file"],
        manifest_bucket=options["manifest_bucket"],
        manifest_key=options["manifest_key"],
        manifest_fields=[f.strip() for f in options["manifest_fields"].split(",") if f.strip()],
        priority=options["priority"],
        description=options["description"],
        role_arn=options["role_arn"],
        confirmation_required=options["confirmation_required"],
        report_bucket=options["report_bucket"],
        report_prefix=options["report_prefix"],
        report_scope=options["report_scope"],
        tags=_pairs(options["tag"], "--tag"),
        client_request_token=options["client_request_token"],
        max_requests_per_second=options["max_requests_per_second"],
        max_tasks_in_flight=options["max_tasks_in_flight"],
        then=[_operation_json(step, "--then-json") for step in options["then"]],
        dry_run=options["dry_run"],
        webhook_url=options["webhook_url"],
        webhook_secret=options["webhook_secret"],
    )
    _emit(output, {"JobId": job_id}, lambda: click.echo(job_id))


def _operation(operation_json: str | None, object_tags: Sequence[str]) -> dict[str, Any]:
    if operation_json and object_tags:
        raise click.UsageError("give either --operation-json or --put-object-tag, not both")
    if object_tags:
        tags = _pairs(object_tags, "--put-object-tag")
        return {"S3PutObjectTagging": {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}}
    if not operation_json:
        raise click.UsageError(
            "give the operation: --operation-json '{\"S3DeleteObjectTagging\": {}}' or --put-object-tag"
        )
    return _operation_json(operation_json, "--operation-json")


def _operation_json(text: str, option: str) -> dict[str, Any]:
    try:
        operation = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(operation, dict) or len(operation) != 1:
        raise click.UsageError(f'{option} must be an object with one operation, e.g. {{"S3DeleteObject": {{}}}}')
    return operation


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{option} takes KEY=VALUE, not {value!r}")
        pairs[key] = rest
    return pairs


# --- apply ----------------------------------------------------------------------------------


#: What ``job apply`` says of its job: new, an earlier apply's, or (a server without the header) not known.
_APPLIED_STATES = {True: "created", False: "exists", None: "applied (this server does not say whether it is new)"}


@job.command()
@click.argument("job_file", metavar="FILE.yaml", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and print the request; create nothing.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Sets ${NAME} in the file (repeatable).")
@with_client
def apply(client: Client, output: str, job_file: Path, dry_run: bool, variables: tuple[str, ...]) -> None:
    """Create the job FILE.yaml describes, once: applying the same file again gives the same job."""
    applied = client.apply(job_file, _pairs(variables, "--var"), dry_run=dry_run)
    if dry_run:
        request: dict[str, Any] = {"ClientRequestToken": applied.token, "CreateJobArguments": applied.request}
        shown = json.dumps(request, indent=2, default=str)
        _emit(output, request, lambda: click.echo(f"{job_file} is valid; it would create (nothing sent):\n{shown}"))
        return
    state = _APPLIED_STATES[applied.created]
    answer: dict[str, Any] = {"JobId": applied.job_id, "State": state, "ClientRequestToken": applied.token}
    _emit(output, answer, lambda: click.echo(f"job {applied.job_id} {state}"))


@job.command("export")
@click.argument("job_id")
@with_client
def export(client: Client, output: str, job_id: str) -> None:
    """Print the job as a job file (YAML) that `batchops job apply` creates again."""
    from batchops.jobfile_export import job_file

    click.echo(job_file(client.describe_job(job_id)), nl=False)


# --- list / describe ------------------------------------------------------------------------


@job.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only these (repeatable).")
@with_client
def list_jobs(client: Client, output: str, statuses: tuple[str, ...]) -> None:
    """The jobs of the last 90 days, newest first."""
    jobs = client.list_jobs(statuses)
    _emit(output, jobs, lambda: _print_list(jobs))


def _print_list(jobs: list[dict[str, Any]]) -> None:
    table = Table("ID", "Description", "Operation", "Priority", "Status", "Succeeded", "Failed", "Total", "Created")
    for item in jobs:
        progress = item.get("ProgressSummary", {})
        table.add_row(
            item["JobId"],
            item.get("Description", ""),
            str(item.get("Operation", "")),
            str(item.get("Priority", "")),
            item["Status"],
            str(progress.get("NumberOfTasksSucceeded", 0)),
            str(progress.get("NumberOfTasksFailed", 0)),
            str(progress.get("TotalNumberOfTasks", 0)),
            _when(item.get("CreationTime")),
        )
    Console(width=200).print(table)
    click.echo(f"{len(jobs)} job(s)")


@job.command()
@click.argument("job_id")
@with_client
def describe(client: Client, output: str, job_id: str) -> None:
    """Everything about one job."""
    found = client.describe_job(job_id)
    _emit(output, found, lambda: _print_job(found))


def _print_job(found: dict[str, Any]) -> None:
    table = Table("Field", "Value", show_header=False)
    for name, value in describe_rows(found):
        table.add_row(name, value)
    Console(width=200).print(table)


def describe_rows(found: dict[str, Any]) -> list[tuple[str, str]]:
    progress = found.get("ProgressSummary", {})
    manifest = found.get("Manifest", {})
    report = found.get("Report", {})
    rows = [
        ("Job ID", found["JobId"]),
        ("Status", found["Status"]),
        ("Description", found.get("Description", "")),
        ("Priority", str(found.get("Priority", ""))),
        ("Dry run", "yes: checks every task, changes nothing" if found.get("BatchOpsDryRun") else ""),
        (
            "Rate cap",
            rate_text(
                {
                    "MaxRequestsPerSecond": found.get("BatchOpsMaxRequestsPerSecond"),
                    "MaxTasksInFlight": found.get("BatchOpsMaxTasksInFlight"),
                }
            ),
        ),
        ("Operation", json.dumps(found.get("Operation", {}), default=str)),
        ("Manifest", manifest.get("Location", {}).get("ObjectArn", "")),
        ("Manifest ETag", manifest.get("Location", {}).get("ETag", "")),
        (
            "Manifest format",
            f"{manifest.get('Spec', {}).get('Format', '')} {manifest.get('Spec', {}).get('Fields', [])}",
        ),
        (
            "Progress",
            f"{progress.get('NumberOfTasksSucceeded', 0)} succeeded, {progress.get('NumberOfTasksFailed', 0)} failed "
            f"of {progress.get('TotalNumberOfTasks', 0)}",
        ),
        ("Active for", f"{progress.get('Timers', {}).get('ElapsedTimeInActiveSeconds', 0)} s"),
        ("Report", json.dumps(report, default=str) if report.get("Enabled") else "none"),
        ("Confirmation required", str(found.get("ConfirmationRequired", False))),
        ("Created", _when(found.get("CreationTime"))),
        ("Terminated", _when(found.get("TerminationDate"))),
        ("Suspended", f"{_when(found.get('SuspendedDate'))} {found.get('SuspendedCause', '')}".strip()),
        ("Status update reason", found.get("StatusUpdateReason", "")),
        (
            "Failure reasons",
            "; ".join(f"{f.get('FailureCode')}: {f.get('FailureReason')}" for f in found.get("FailureReasons", [])),
        ),
        ("Role ARN", found.get("RoleArn", "")),
        ("Job ARN", found.get("JobArn", "")),
        ("Retry of", found.get("BatchOpsRetryOf", "")),
        ("Retries", ", ".join(found.get("BatchOpsRetries", []))),
        ("Chain", chain_text(found.get("BatchOpsChain"))),
        ("Webhook", found.get("BatchOpsWebhook", {}).get("Url", "")),
        ("Webhook deliveries", deliveries_text(found.get("BatchOpsWebhookDeliveries", []))),
    ]
    return [(name, value) for name, value in rows if value]


def deliveries_text(attempts: list[dict[str, Any]]) -> str:
    """The recent delivery attempts, one line each: when, which status, which attempt, what came of it."""
    return "\n".join(
        f"{_when(a.get('Time'))} {a.get('JobStatus')} attempt {a.get('Attempt')}: "
        f"{a.get('HttpStatus') or a.get('Error', 'no answer')}{' delivered' if a.get('Delivered') else ''}"
        for a in attempts
    )


def chain_text(chain: dict[str, Any] | None) -> str:
    """``step 2 of 3, Running: 1 S3PutObjectTagging (job …, Complete) -> 2 …``, plus why it stopped."""
    if not chain:
        return ""
    steps = chain.get("Steps", [])
    shown = []
    for step in steps:
        where = f" (job {step['JobId']}, {step.get('Status', '')})" if step.get("JobId") else ""
        shown.append(f"{step.get('Number')} {step.get('Operation')}{where}")
    text = f"step {chain.get('Position')} of {len(steps)}, {chain.get('State')}: " + " -> ".join(shown)
    return f"{text}; {chain['Reason']}" if chain.get("Reason") else text


# --- priority / status ----------------------------------------------------------------------


@job.command("update-priority")
@click.argument("job_id")
@click.argument("priority", type=click.IntRange(MIN_PRIORITY, MAX_PRIORITY))
@with_client
def update_priority(client: Client, output: str, job_id: str, priority: int) -> None:
    """Change a job's priority (higher runs first)."""
    now = client.update_priority(job_id, priority)
    _emit(output, {"JobId": job_id, "Priority": now}, lambda: click.echo(f"job {job_id} priority {now}"))


@job.command("update-rate")
@click.argument("job_id")
@click.option("--max-requests-per-second", metavar="N|none", help="S3 requests a second for the job; none: no cap.")
@click.option("--max-tasks-in-flight", metavar="M|none", help="The job's tasks running at once; none: no cap.")
@with_client
def update_rate(
    client: Client, output: str, job_id: str, max_requests_per_second: str | None, max_tasks_in_flight: str | None
) -> None:
    """Change a job's rate caps while it runs; its tasks follow within 2 seconds."""
    if max_requests_per_second is None and max_tasks_in_flight is None:
        raise click.UsageError("give --max-requests-per-second and/or --max-tasks-in-flight (a number, or none)")
    caps = client.update_rate(job_id, max_requests_per_second, max_tasks_in_flight)
    _emit(output, {"JobId": job_id, **caps}, lambda: click.echo(f"job {job_id} {rate_text(caps)}"))


def rate_text(caps: dict[str, Any]) -> str:
    """``max 50 requests/s, max 8 tasks in flight`` (or ``no rate cap``)."""
    requests, tasks = caps.get("MaxRequestsPerSecond"), caps.get("MaxTasksInFlight")
    parts = ([f"max {requests:g} requests/s"] if requests is not None else []) + (
        [f"max {tasks} tasks in flight"] if tasks is not None else []
    )
    return ", ".join(parts) or "no rate cap"


@job.command("update-status")
@click.argument("job_id")
@click.option(
    "--requested-job-status",
    required=True,
    type=click.Choice([requested.value for requested in USER_REQUESTS]),
    help="Ready confirms a Suspended job or resumes a Paused one; Paused pauses one; Cancelled cancels one.",
)
@click.option("--status-update-reason", help="Why (up to 256 characters).")
@with_client
def update_status(
    client: Client, output: str, job_id: str, requested_job_status: str, status_update_reason: str | None
) -> None:
    """Confirm or resume (Ready), pause (Paused) or cancel (Cancelled) a job."""
    status = client.update_status(job_id, requested_job_status, status_update_reason)
    _emit(output, {"JobId": job_id, "Status": status}, lambda: click.echo(f"job {job_id} is {status}"))


@job.command()
@click.argument("job_id")
@click.option(
    "--error-code", "error_codes", multiple=True, help="Retry only failed tasks with this error code (repeatable)."
)
@click.option("--client-request-token", help="Idempotency token: the same token retries once (default: a new one).")
@with_client
def retry(
    client: Client, output: str, job_id: str, error_codes: tuple[str, ...], client_request_token: str | None
) -> None:
    """Run a finished job's failed tasks again, as a new job with the same operation and settings."""
    new_id = client.retry_job(job_id, error_codes, client_request_token)
    answer = {"JobId": new_id, "RetryOf": job_id}
    _emit(output, answer, lambda: click.echo(f"job {new_id} retries the failed tasks of job {job_id}"))


@job.command()
@click.argument("job_id")
@click.option("--failed", "status", flag_value="Failed", default=True, help="List the failed tasks (the default).")
@click.option("--succeeded", "status", flag_value="Succeeded", help="List the succeeded tasks instead.")
@click.option("--error-code", "error_codes", multiple=True, help="Only tasks with this error code (repeatable).")
@click.option("--prefix", help="Only tasks whose key starts with this (any characters).")
@click.option("--order", type=click.Choice(["newest", "key"]), default="newest", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Tasks to list (0: all).")
@with_client
def tasks(
    client: Client,
    output: str,
    job_id: str,
    status: str,
    error_codes: tuple[str, ...],
    prefix: str | None,
    order: str,
    limit: int,
) -> None:
    """A job's failed (or succeeded) tasks while it runs or after, newest first or by key, with its counts."""
    page_size = min(limit, 1000) if limit else 1000
    listed = client.tasks(job_id, status, error_codes, prefix, order, page_size)
    shown = list(itertools.islice(listed, limit + 1)) if limit else list(listed)
    more = bool(limit) and len(shown) > limit
    shown = shown[:limit] if limit else shown
    counts = client.task_counts(job_id)
    data = {"JobId": job_id, "Counts": counts, "Tasks": shown, "More": more}
    _emit(output, data, lambda: _print_tasks(shown, more, counts))


def _print_tasks(shown: list[dict[str, Any]], more: bool, counts: dict[str, Any]) -> None:
    table = Table("#", "Bucket", "Key", "VersionId", "Status", "ErrorCode", "HTTP", "ResultMessage")
    for task in shown:
        cells = [task["Bucket"], task["Key"], task["VersionId"] or "", task["Status"], task["ErrorCode"]]
        table.add_row(
            str(task["TaskIndex"]),
            *(Text(printable(cell)) for cell in cells),
            str(task["HttpStatus"] or ""),
            Text(printable(task["ResultMessage"])),
        )
    Console(width=200).print(table)
    click.echo(f"{len(shown)} task(s)" + (" shown; more with a larger --limit (0: all)" if more else ""))
    by_code = ", ".join(f"{code or '(no code)'} {n}" for code, n in counts["ByErrorCode"].items())
    click.echo(f"{counts['Succeeded']} succeeded, {counts['Failed']} failed" + (f" ({by_code})" if by_code else ""))


def printable(text: str) -> str:
    """Text for a terminal table: control characters and bytes that were not UTF-8 as escapes (``--output json``
    gives names exactly)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@job.command()
@click.argument("job_id")
@click.option("--reason", help="Why (up to 256 characters; DescribeJob shows it).")
@with_client
def pause(client: Client, output: str, job_id: str, reason: str | None) -> None:
    """Pause a running or waiting job: its running tasks finish, no new ones start, until `job resume`."""
    status = client.pause_job(job_id, reason)
    _emit(output, {"JobId": job_id, "Status": status}, lambda: click.echo(f"job {job_id} is {status}"))


@job.command()
@click.argument("job_id")
@click.option("--reason", help="Why (up to 256 characters; DescribeJob shows it).")
@with_client
def resume(client: Client, output: str, job_id: str, reason: str | None) -> None:
    """Resume a paused job: Ready, then Active when a slot is free."""
    status = client.resume_job(job_id, reason)
    _emit(output, {"JobId": job_id, "Status": status}, lambda: click.echo(f"job {job_id} is {status}"))


# --- wait / report --------------------------------------------------------------------------


@job.command()
@click.argument("job_id")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 1).")
@click.option(
    "--until",
    type=click.Choice(["Suspended", "Ready", "Active", "Paused"]),
    help="Stop when the job shows this status instead (Suspended: its manifest is read and it awaits confirmation);"
    " exit 1 if it ends without reaching it.",
)
@with_client
def wait(client: Client, output: str, job_id: str, interval: float, timeout: float | None, until: str | None) -> None:
    """Show a job's progress until it ends (or shows --until); exit 1 unless it ends Complete (or shows --until)."""
    with WaitProgress(job_id) as bar:
        final = client.wait(job_id, interval=interval, timeout=timeout, on_progress=bar.update, until=until)
    summary = bar.summary(final)
    _emit(output, final, lambda: click.echo(summary))
    if final["Status"] != (until or "Complete"):
        reasons = "; ".join(
            f"{f.get('FailureCode')}: {f.get('FailureReason')}" for f in final.get("FailureReasons", [])
        )
        before = f" before it was {until}" if until else ""
        fail(f"job {job_id} ended {final['Status']}{before}" + (f": {reasons}" if reasons else ""))


#: The task count of a job still reading its manifest.
_UNKNOWN = "…"


def total_text(found: dict[str, Any]) -> str:
    """The job's task count as the bar shows it: known once the manifest is read, or once the job has ended
    (a job that failed before reading it has 0 tasks, not an unknown number)."""
    total = int(found.get("ProgressSummary", {}).get("TotalNumberOfTasks", 0))
    return str(total) if total or found.get("Status") in _ENDED else _UNKNOWN


class WaitProgress:
    """A rich progress bar fed by DescribeJob polls: succeeded, failed, rate and ETA."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.started = time.monotonic()
        self.first_done: int | None = None
        self.progress = Progress(
            TextColumn("[bold]{task.fields[status]}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn(
                "[green]{task.fields[succeeded]} succeeded[/] [red]{task.fields[failed]} failed[/] "
                "of {task.fields[total_text]}"
            ),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task = self.progress.add_task(
            job_id, total=None, status="…", succeeded=0, failed=0, total_text=_UNKNOWN, rate=""
        )

    def __enter__(self) -> WaitProgress:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def update(self, found: dict[str, Any]) -> None:
        summary = found.get("ProgressSummary", {})
        succeeded = int(summary.get("NumberOfTasksSucceeded", 0))
        failed = int(summary.get("NumberOfTasksFailed", 0))
        total = int(summary.get("TotalNumberOfTasks", 0))
        self.progress.update(
            self.task,
            total=total or None,
            completed=succeeded + failed,
            status=found["Status"],
            succeeded=succeeded,
            failed=failed,
            total_text=total_text(found),
            rate=self._rate(succeeded + failed),
        )

    def _rate(self, done: int) -> str:
        if self.first_done is None:
            self.first_done = done
            self.started = time.monotonic()
        elapsed = time.monotonic() - self.started
        return f"{(done - self.first_done) / elapsed:,.0f} tasks/s" if elapsed > 0.5 else ""

    def summary(self, found: dict[str, Any]) -> str:
        summary = found.get("ProgressSummary", {})
        return (
            f"job {self.job_id} {found['Status']}: {summary.get('NumberOfTasksSucceeded', 0)} succeeded, "
            f"{summary.get('NumberOfTasksFailed', 0)} failed of {summary.get('TotalNumberOfTasks', 0)} "
            f"in {summary.get('Timers', {}).get('ElapsedTimeInActiveSeconds', 0)} s active"
        )


@job.command()
@click.argument("job_id")
@click.option("--limit", type=int, default=100, show_default=True, help="Rows to show in a table (json: all).")
@with_client
def report(client: Client, output: str, job_id: str, limit: int) -> None:
    """A finished job's completion report: its files and rows."""
    found = client.report(job_id)
    data = {"Manifest": found.manifest, "Rows": found.rows, "Counts": found.outcome_counts()}
    _emit(output, data, lambda: _print_report(found, limit))


def _print_report(found: Any, limit: int) -> None:
    console = Console(width=200)
    for result in found.manifest.get("Results", []):
        console.print(f"{result.get('TaskExecutionStatus')}: s3://{result.get('Bucket')}/{result.get('Key')}")
    table = Table("Bucket", "Key", "VersionId", "TaskStatus", "ErrorCode", "HTTPStatusCode", "ResultMessage")
    for row in found.rows[:limit]:
        table.add_row(*(row.get(column, "") for column in table_columns(table)))
    console.print(table)
    click.echo(f"{len(found.rows)} row(s)" + (f", first {limit} shown" if len(found.rows) > limit else ""))
    click.echo(f"by outcome: {counts_text(found.outcome_counts())}")


def counts_text(counts: dict[str, int]) -> str:
    """``3 succeeded, 2 failed (NoSuchKey 1, TooManyTags 1)``: a report's rows by outcome."""
    succeeded = counts.get("succeeded", 0)
    failed = {code: n for code, n in sorted(counts.items()) if code != "succeeded"}
    text = f"{succeeded} succeeded, {sum(failed.values())} failed"
    return text + (f" ({', '.join(f'{code} {n}' for code, n in failed.items())})" if failed else "")


def table_columns(table: Table) -> list[str]:
    return [str(column.header) for column in table.columns]


# --- output ---------------------------------------------------------------------------------


def _emit(output: str, data: Any, as_table: Callable[[], None]) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=_json_default))
    else:
        as_table()


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else (str(value) if value else "")
