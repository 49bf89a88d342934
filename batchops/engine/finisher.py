"""Ending a job: write its completion report, then move it to its terminal status."""

from __future__ import annotations

import logging
import time

from botocore.exceptions import BotoCoreError, ClientError

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine.chain import start_next_step
from batchops.errors import ValidationError
from batchops.reports.writer import write_report
from batchops.s3.errors import to_task_error
from batchops.s3.types import S3Client
from batchops.store.base import Store

log = logging.getLogger(__name__)

#: Each ending status and where it leads once the report is written.
ENDINGS = {
    JobStatus.COMPLETING: JobStatus.COMPLETE,
    JobStatus.CANCELLING: JobStatus.CANCELLED,
    JobStatus.FAILING: JobStatus.FAILED,
}

_DONE_REASON = {
    JobStatus.COMPLETE: "Job complete",
    JobStatus.CANCELLED: "Job cancelled",
    JobStatus.FAILED: "Job failed",
}


async def finish(store: Store, s3: S3Client, job: Job) -> JobStatus:
    """Write the report (when enabled) and end the job; returns the terminal status reached."""
    failure = await _write_report(store, s3, job)
    if failure is not None and job.status is JobStatus.COMPLETING:
        await store.transition(job.id, JobStatus.FAILING, failure.reason, failure)
        await store.transition(job.id, JobStatus.FAILED, _DONE_REASON[JobStatus.FAILED])
        return JobStatus.FAILED
    if failure is not None:
        await store.add_failure(job.id, failure)
    target = ENDINGS[job.status]
    if target is JobStatus.COMPLETE:  # first, so a finish repeated after a crash still starts it (once)
        await start_next_step(store, s3, job)
    await store.transition(job.id, target, _DONE_REASON[target])
    return target


async def _write_report(store: Store, s3: S3Client, job: Job) -> FailureReason | None:
    report = job.spec.report
    if not report.enabled:
        return None
    started = time.perf_counter()
    try:
        keys = await write_report(s3, job.id, report, lambda status: store.report_runs(job.id, status))
    except ValidationError as exc:  # the report's own settings (e.g. its prefix) cannot be written
        return FailureReason("ReportWriteFailed", f"the completion report was not written: {exc}"[:256])
    except (ClientError, BotoCoreError) as exc:
        error = to_task_error(exc)
        log.warning("report for job %s not written: %s", job.id, error.message, extra={"action": "report_failed"})
        return FailureReason(
            "ReportWriteFailed",
            f"the completion report could not be written to {report.bucket}: {error.code}: {error.message}"[:256],
        )
    seconds = time.perf_counter() - started  # the report's own time (the bench's P10 reads it from this line)
    log.info(
        "report for job %s written: %d files in %.3f s",
        job.id,
        len(keys),
        seconds,
        extra={"action": "report_written", "seconds": seconds},
    )
    return None
