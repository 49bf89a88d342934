"""The webhook sender: POSTs each job's status moves from the outbox the store writes with every move.

A move never waits for a receiver: the store only adds an outbox row in the move's transaction. This loop (one
per server, for the server's lifetime) takes each job's oldest pending event, signs it (``batchops.webhooks``),
POSTs it with a short timeout and records the attempt. A failure (no answer, or not 2xx) is retried after a
doubling wait with jitter, until ``webhook_give_up_seconds`` after the move; a job's later events wait behind
it, so a receiver sees each job's events in order. Several servers may share a store: each claims an event
before it POSTs, so one sends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time

import aiohttp

from batchops import webhooks
from batchops.arns import parse_bucket_arn
from batchops.domain import webhook
from batchops.domain.job import Job, ReportSpec, WebhookTarget
from batchops.domain.status import JobStatus
from batchops.domain.webhook import AttemptResult, PendingDelivery
from batchops.errors import JobNotFound
from batchops.reports.layout import index_key, job_folder
from batchops.settings import Settings
from batchops.store.base import Clock, Store

log = logging.getLogger(__name__)

#: Seconds a receiver has to answer one POST.
TIMEOUT_SECONDS = 5.0
#: The longest wait between two attempts of one event.
MOST_WAIT_SECONDS = 3600.0
#: Seconds between looks at the outbox when it had nothing due.
POLL_SECONDS = 0.5
#: The longest wait between two looks at an outbox the store cannot serve (down, or its disk full).
MOST_OUTAGE_WAIT_SECONDS = 30.0
#: Events sent at once (each of a different job).
BATCH = 32
#: Longest error text kept for an attempt.
MAX_ERROR_CHARS = 300


class Notifier:
    def __init__(
        self, store: Store, settings: Settings, *, clock: Clock = time.time, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Not ``suppress(CancelledError)`` around ``await self._task``: that would swallow a cancel of the
            # caller too (a shutdown that timed out), and the caller would go on as if nothing had happened.
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.send_due()
                failures = 0
            except Exception as exc:  # the store is down or full: the events stay in the outbox for later
                failures += 1
                wait = min(self._poll_seconds * 2.0 ** min(failures, 16), MOST_OUTAGE_WAIT_SECONDS)
                said = "webhooks: cannot use the outbox (%s); trying again in %.0f s"
                log.warning(said, exc, wait, extra={"action": "webhook"})
                await asyncio.sleep(wait)
                continue
            if not sent:
                await asyncio.sleep(self._poll_seconds)

    async def send_due(self) -> int:
        """Send every due event once (each job's oldest); how many were tried or dropped. Events nobody listens
        for (most jobs have no webhook) are dropped together, in one write."""
        due = await self._store.due_deliveries(self._clock(), BATCH)
        listened, unheard = [], []
        for delivery in due:
            try:
                job: Job | None = await self._store.job_for_engine(delivery.job_id)
            except JobNotFound:  # purged meanwhile
                job = None
            target = None if job is None else self._target(job)
            if job is None or target is None:
                unheard.append(delivery.id)  # as if never written
            else:
                listened.append(self._send(delivery, job, target))
        await self._store.drop_deliveries(unheard)
        await asyncio.gather(*listened)
        return len(due)

    async def _send(self, delivery: PendingDelivery, job: Job, target: WebhookTarget) -> None:
        if not await self._store.claim_delivery(delivery, self._clock() + TIMEOUT_SECONDS + 60):
            return  # another server sends it
        result = await self._post(delivery, _body(delivery, job), target)
        next_at = None if result.delivered else self._next_attempt(delivery)
        await self._store.record_attempt(delivery, result, next_at)
        _log_attempt(delivery, result, next_at, self._clock())

    def _target(self, job: Job) -> WebhookTarget | None:
        """The job's own webhook, else its account's (None: neither has one)."""
        if job.spec.webhook is not None:
            return job.spec.webhook
        account = self._settings.account(job.account_id)
        if account is None or not account.webhook_url or not account.webhook_secret:
            return None
        return WebhookTarget(account.webhook_url, account.webhook_secret)

    async def _post(self, delivery: PendingDelivery, body: bytes, target: WebhookTarget) -> AttemptResult:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "batchops-webhooks",
            webhooks.SIGNATURE_HEADER: webhooks.signature_header(body, target.secret, int(self._clock())),
            webhooks.EVENT_HEADER: delivery.event,
            webhooks.DELIVERY_HEADER: f"{delivery.job_id}/{delivery.id}",
        }
        try:
            session = self._client()
            async with session.post(target.url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                return AttemptResult(response.status, None if response.status < 300 else response.reason)
        except TimeoutError:
            return AttemptResult(None, f"no answer within {TIMEOUT_SECONDS:g} seconds")
        except aiohttp.ClientError as exc:
            return AttemptResult(None, _said(exc))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _next_attempt(self, delivery: PendingDelivery) -> float | None:
        """When to try again after this attempt failed: a doubling wait, jittered so many receivers that come back
        at once are not all retried at once; None past the give-up age."""
        now = self._clock()
        if now - delivery.created_at >= self._settings.webhook_give_up_seconds:
            return None
        first = self._settings.webhook_retry_seconds
        wait = min(first * 2.0 ** min(delivery.attempts, 32), MOST_WAIT_SECONDS)
        return now + wait * random.uniform(0.75, 1.0)


def _body(delivery: PendingDelivery, job: Job) -> bytes:
    """The event as written at the move; a Complete one also says where the job's report is."""
    if delivery.status != JobStatus.COMPLETE.value:
        return delivery.body.encode("utf-8")
    body = json.loads(delivery.body)
    body["report"] = report_location(job.id, job.spec.report)
    return webhook.encode(body).encode("utf-8")


def report_location(job_id: str, report: ReportSpec) -> dict[str, str] | None:
    """The completion report's manifest.json (None: the job writes no report)."""
    if not report.enabled or not report.bucket:
        return None
    return {"bucket": parse_bucket_arn(report.bucket), "manifest_key": index_key(job_folder(report.prefix, job_id))}


def _said(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:MAX_ERROR_CHARS]


def _log_attempt(delivery: PendingDelivery, result: AttemptResult, next_at: float | None, now: float) -> None:
    """One line per attempt: the job, the event, what came of it (never the URL's secret parts nor the secret)."""
    outcome = str(result.http_status) if result.http_status is not None else (result.error or "no answer")
    if result.delivered:
        after = "delivered"
    elif next_at is None:
        after = "given up"
    else:
        after = f"retried in {max(next_at - now, 0):.0f} s"
    log.info(
        "webhook %s for job %s (%s), attempt %d: %s, %s",
        delivery.event,
        delivery.job_id,
        delivery.status,
        delivery.attempts + 1,
        outcome,
        after,
        extra={"action": "webhook", "job_id": delivery.job_id},
    )
