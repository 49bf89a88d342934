"""How the console shows a job to people: percentages, throughput, ETA, times, allowed actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY, Job
from batchops.domain.status import TERMINAL, JobStatus, PausedBy, allowed_requests, priority_is_final

#: Badge colour family per status (CSS classes in console.css).
BADGES = {
    JobStatus.NEW: "neutral",
    JobStatus.PREPARING: "info",
    JobStatus.SUSPENDED: "warn",
    JobStatus.READY: "info",
    JobStatus.ACTIVE: "run",
    JobStatus.PAUSING: "warn",
    JobStatus.PAUSED: "warn",
    JobStatus.COMPLETING: "run",
    JobStatus.COMPLETE: "ok",
    JobStatus.CANCELLING: "warn",
    JobStatus.CANCELLED: "neutral",
    JobStatus.FAILING: "bad",
    JobStatus.FAILED: "bad",
}


#: Statuses in which no more of the manifest is read: the job is ending or has ended.
ENDING: frozenset[JobStatus] = TERMINAL | {JobStatus.COMPLETING, JobStatus.CANCELLING, JobStatus.FAILING}


def percent(job: Job) -> int:
    """Tasks run, in percent of all tasks; 0 when there are none (a job that failed before running any)."""
    total = job.progress.total
    return int(job.progress.done * 100 / total) if total else 0


def shares(job: Job) -> tuple[str, str]:
    """The progress bar's two parts, succeeded and failed, in percent of all tasks (as SVG widths)."""
    total = job.progress.total
    if not total:
        return "0", "0"
    return f"{job.progress.succeeded * 100 / total:.2f}", f"{job.progress.failed * 100 / total:.2f}"


def reading_manifest(job: Job) -> bool:
    """Whether the manifest is still being read (its rows still count up): not once the job is ending."""
    return not job.manifest_done and job.status not in ENDING


def rate(job: Job) -> float | None:
    """Tasks per second while Active (all tasks run over all time spent Active)."""
    elapsed = job.progress.elapsed_active_seconds
    return job.progress.done / elapsed if elapsed >= 1 and job.progress.done else None


def eta_seconds(job: Job) -> int | None:
    """Time left at the current rate, for an Active job whose manifest has been read completely."""
    speed = rate(job)
    if job.status is not JobStatus.ACTIVE or not job.manifest_done or not speed:
        return None
    return int((job.progress.total - job.progress.done) / speed)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def when(moment: datetime | float | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, float | int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def actions(job: Job) -> dict[str, bool]:
    """Which buttons the console shows for a job in its current status."""
    requests = allowed_requests(job.status, job.paused_by)
    return {
        "confirm": "Ready" in requests and job.status is JobStatus.SUSPENDED,
        "resume": "Ready" in requests and job.status is JobStatus.PAUSED,
        "pause": "Paused" in requests,
        "cancel": "Cancelled" in requests,
        "priority": not priority_is_final(job.status),
    }


def rate_caps(job: Job) -> str:
    """``at most 50 requests/s and 8 tasks at once`` (or ``none``)."""
    caps = job.rate
    parts = []
    if caps.max_requests_per_second is not None:
        parts.append(f"{caps.max_requests_per_second:g} requests/s")
    if caps.max_tasks_in_flight is not None:
        parts.append(f"{caps.max_tasks_in_flight} tasks at once")
    return "at most " + " and ".join(parts) if parts else "none"


def paused_note(job: Job) -> str | None:
    """Who paused the job and what resumes it, in the console's words (None: it is not pausing or paused)."""
    if job.status not in (JobStatus.PAUSING, JobStatus.PAUSED):
        return None
    if job.paused_by is PausedBy.USER:
        return "paused by hand: it stays paused until you resume it (Resume, under Actions)"
    return "paused for a higher-priority job: it resumes by itself when a slot is free"


def suspended_reason(job: Job) -> str | None:
    """Why the job is Suspended, in the console's words (the API's cause names the API call that confirms it)."""
    if job.suspended_cause and job.suspended_cause.startswith("ConfirmationRequired"):
        return "waiting for your confirmation (Confirm and run, under Actions)"
    return job.suspended_cause


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def job_summary(job: Job) -> dict[str, Any]:
    """The JSON form of a job's live state (also what the live endpoints return besides HTML parts)."""
    speed = rate(job)
    return {
        "id": job.id,
        "status": job.status.value,
        "priority": job.priority,
        "total": job.progress.total,
        "succeeded": job.progress.succeeded,
        "failed": job.progress.failed,
        "percent": percent(job),
        "tasks_per_second": round(speed, 2) if speed else None,
        "eta_seconds": eta_seconds(job),
        "terminal": job.status in TERMINAL,
    }


FILTERS = {"duration": duration, "when": when, "pretty_json": pretty_json}
GLOBALS = {
    "percent": percent,
    "shares": shares,
    "reading_manifest": reading_manifest,
    "suspended_reason": suspended_reason,
    "paused_note": paused_note,
    "rate": rate,
    "eta_seconds": eta_seconds,
    "actions": actions,
    "rate_caps": rate_caps,
    "badges": BADGES,
    "priority_range": (MIN_PRIORITY, MAX_PRIORITY),
}
