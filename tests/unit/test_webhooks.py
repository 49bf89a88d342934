"""Webhooks without a server: signing and ``verify``; ``BatchOpsWebhook`` parsed on both wires (the URL echoed,
never the secret) and kept in the spec JSON only when set; the account's settings; the outbox every store keeps
(a row per move, each job's oldest first, claims, attempts); the notifier against a real local receiver."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from batchops import webhooks
from batchops.api import cos_xml, s3control_xml
from batchops.domain.extras import JobExtras
from batchops.domain.job import WebhookTarget
from batchops.domain.status import JobStatus
from batchops.domain.webhook import AttemptResult, DeliveryAttempt, PendingDelivery
from batchops.errors import ConfigError, ValidationError
from batchops.service.notifier import Notifier
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.store.codec import spec_from_json, spec_to_json
from batchops.store.memory import MemoryStore
from batchops.tenancy import read_accounts
from batchops.xmlutil import parse_xml
from tests.support.clock import ManualClock
from tests.support.job_store import make_spec, new_job
from tests.support.receiver import Receiver
from tests.support.s3control_bodies import DEFAULT_THRESHOLD, REGION, make_job
from tests.support.wire_bodies import cos_body, s3control_body

SECRET = "unit-test-secret"
HOOK = f"<BatchOpsWebhook><Url>https://hooks.example.com/batchops</Url><Secret>{SECRET}</Secret></BatchOpsWebhook>"
BODY = b'{"event":"job.finished","job_id":"j"}'


# --- signing --------------------------------------------------------------------------------------------------------


def test_a_signature_verifies_with_its_secret_and_nothing_else() -> None:
    header = webhooks.signature_header(BODY, SECRET, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    now = 1_700_000_100
    assert webhooks.verify(BODY, header, SECRET, now=now)
    assert not webhooks.verify(BODY, header, "another-secret", now=now)  # a wrong secret
    assert not webhooks.verify(BODY + b" ", header, SECRET, now=now)  # a changed body
    forged = header.replace("t=1700000000", "t=1700000050")  # the timestamp is signed too
    assert not webhooks.verify(BODY, forged, SECRET, now=now)


def test_a_signature_outside_the_tolerance_is_refused_either_way() -> None:
    header = webhooks.signature_header(BODY, SECRET, timestamp=1_700_000_000)
    assert webhooks.verify(BODY, header, SECRET, tolerance=300, now=1_700_000_300)
    assert not webhooks.verify(BODY, header, SECRET, tolerance=300, now=1_700_000_301)  # replayed later
    assert not webhooks.verify(BODY, header, SECRET, tolerance=300, now=1_699_999_699)  # from the future
    assert webhooks.verify(BODY, webhooks.signature_header(BODY, SECRET), SECRET)  # now, on the real clock


@pytest.mark.parametrize("header", ["", "t=,v1=", "v1=abc", "t=x,v1=abc", "t=1700000000", "garbage"])
def test_a_malformed_header_is_simply_false(header: str) -> None:
    assert webhooks.verify(BODY, header, SECRET, now=1_700_000_000) is False


def test_any_of_several_v1_signatures_may_match() -> None:
    good = webhooks.signature(BODY, SECRET, 1_700_000_000)
    assert webhooks.verify(BODY, f"t=1700000000,v1={'0' * 64},v1={good}", SECRET, now=1_700_000_000)


# --- the wire -------------------------------------------------------------------------------------------------------


def test_s3control_parses_the_webhook_and_describe_job_shows_the_url_only() -> None:
    spec, _ = s3control_xml.parse_create_job(s3control_body(BatchOpsWebhook=HOOK), default_threshold=DEFAULT_THRESHOLD)
    assert spec.webhook == WebhookTarget("https://hooks.example.com/batchops", SECRET)
    assert SECRET not in repr(spec)  # a logged spec does not carry it either

    attempt = DeliveryAttempt(7, "job.finished", "Complete", 2, datetime(2030, 1, 1, tzinfo=UTC), 500, "boom", False)
    extras = JobExtras(deliveries=(attempt,))
    rendered = s3control_xml.render_describe_job(replace(make_job(), spec=spec), region=REGION, extras=extras)
    job = parse_xml(rendered).find("Job")
    assert job is not None and job.findtext("BatchOpsWebhook/Url") == "https://hooks.example.com/batchops"
    assert SECRET.encode() not in rendered and b"<Secret>" not in rendered
    member = job.find("BatchOpsWebhookDeliveries/member")
    assert member is not None
    assert [(e.tag, e.text) for e in member] == [
        ("DeliveryId", "7"),
        ("Event", "job.finished"),
        ("JobStatus", "Complete"),
        ("Attempt", "2"),
        ("Time", "2030-01-01T00:00:00.000Z"),
        ("HttpStatus", "500"),
        ("Error", "boom"),
        ("Delivered", "false"),
    ]
    plain = parse_xml(s3control_xml.render_describe_job(make_job(), region=REGION)).find("Job")
    assert (
        plain is not None and plain.find("BatchOpsWebhook") is None and plain.find("BatchOpsWebhookDeliveries") is None
    )


def test_cos_parses_the_webhook_and_describe_job_shows_the_url_only() -> None:
    spec = cos_xml.parse_create_job(cos_body(BatchOpsWebhook=HOOK), default_threshold=DEFAULT_THRESHOLD)
    assert spec.webhook is not None and spec.webhook.secret == SECRET
    rendered = cos_xml.render_describe_job(replace(make_job(), spec=spec))
    assert b"<BatchOpsWebhook><Url>https://hooks.example.com/batchops</Url></BatchOpsWebhook>" in rendered
    assert SECRET.encode() not in rendered


@pytest.mark.parametrize(
    ("hook", "says"),
    [
        ("<BatchOpsWebhook><Url>ftp://x.example.com/</Url><Secret>12345678</Secret></BatchOpsWebhook>", "http://"),
        ("<BatchOpsWebhook><Url>https:///nohost</Url><Secret>12345678</Secret></BatchOpsWebhook>", "with a host"),
        ("<BatchOpsWebhook><Url>https://x.example.com/</Url></BatchOpsWebhook>", "BatchOpsWebhook.Secret is missing"),
        ("<BatchOpsWebhook><Secret>12345678</Secret></BatchOpsWebhook>", "BatchOpsWebhook.Url is missing"),
        ("<BatchOpsWebhook><Url>https://x.example.com/</Url><Secret>short</Secret></BatchOpsWebhook>", "8 to 256"),
        (
            "<BatchOpsWebhook><Url>https://x.example.com/</Url><Secret>12345678</Secret><Hdr>x</Hdr></BatchOpsWebhook>",
            "Hdr",
        ),
    ],
)
@pytest.mark.parametrize("dialect", ["s3control", "cos"])
def test_a_bad_webhook_is_refused_naming_the_fix(dialect: str, hook: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        if dialect == "cos":
            cos_xml.parse_create_job(cos_body(BatchOpsWebhook=hook), default_threshold=DEFAULT_THRESHOLD)
        else:
            s3control_xml.parse_create_job(s3control_body(BatchOpsWebhook=hook), default_threshold=DEFAULT_THRESHOLD)


def test_the_spec_json_carries_the_webhook_only_when_set() -> None:
    plain = make_spec()
    assert "webhook" not in json.loads(spec_to_json(plain))  # older jobs' JSON and fingerprints stay as they were
    hooked = make_spec(webhook=WebhookTarget("https://h.example.com/", SECRET))
    assert spec_from_json(spec_to_json(hooked)) == hooked


# --- the account's webhook ------------------------------------------------------------------------------------------


def account(**extra: object) -> dict[str, object]:
    return {"id": "111111111111", "access_key_id": "AK", "secret_access_key": "SK", **extra}


def test_an_account_may_have_a_webhook_and_its_secret_stays_out_of_its_repr() -> None:
    (found,) = read_accounts([account(webhook_url="https://h.example.com/", webhook_secret=SECRET)])
    assert (found.webhook_url, found.webhook_secret) == ("https://h.example.com/", SECRET)
    assert SECRET not in repr(found)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"webhook_url": "https://h.example.com/"}, "give both webhook_url"),
        ({"webhook_secret": SECRET}, "give both webhook_url"),
        ({"webhook_url": "mailto:x@example.com", "webhook_secret": SECRET}, "webhook_url must be an http://"),
        ({"webhook_url": "https://h.example.com/", "webhook_secret": "short"}, "webhook_secret must be 8 to 256"),
    ],
)
def test_a_bad_account_webhook_is_refused_at_start(extra: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=f"account 111111111111: .*{says}"):
        read_accounts([account(**extra)])


# --- the outbox -----------------------------------------------------------------------------------------------------


async def test_every_move_writes_an_event_and_each_jobs_oldest_is_due_first(any_store: Store) -> None:
    first = await new_job(any_store, "t-1")
    second = await new_job(any_store, "t-2")
    assert await any_store.transition(first, JobStatus.PREPARING, "reading the manifest")

    due = await any_store.due_deliveries(time.time() + 10**10, 10)

    assert [(d.job_id, d.status) for d in due] == [(first, "New"), (second, "New")]  # first's Preparing waits
    assert await any_store.pending_deliveries(first) == 2
    body = json.loads(due[0].body)
    assert body["event"] == "job.status_changed" and body["previous_status"] is None
    assert body["account_id"] == "111111111111" and body["progress"]["total_tasks"] == 0


async def test_a_claimed_event_is_taken_once_and_an_attempt_moves_the_job_on(any_store: Store) -> None:
    job_id = await new_job(any_store)
    assert await any_store.transition(job_id, JobStatus.PREPARING, "reading")
    far = time.time() + 10**10
    (new,) = await any_store.due_deliveries(far, 10)
    assert await any_store.claim_delivery(new, far)
    assert not await any_store.claim_delivery(new, far)  # another sender's claim of the same sighting fails
    await any_store.record_attempt(new, AttemptResult(503, "Service Unavailable"), next_attempt_at=far + 5)
    assert await any_store.due_deliveries(far, 10) == []  # its next attempt is later; Preparing waits behind it

    (again,) = await any_store.due_deliveries(far + 5, 10)
    assert (again.id, again.attempts) == (new.id, 1)
    await any_store.record_attempt(again, AttemptResult(204, None), None)
    (preparing,) = await any_store.due_deliveries(far + 5, 10)
    assert preparing.status == "Preparing"
    await any_store.record_attempt(preparing, AttemptResult(None, "refused"), None)  # given up on

    attempts = await any_store.delivery_attempts(job_id, 10)
    assert [(a.status, a.attempt, a.http_status, a.delivered) for a in attempts] == [
        ("New", 1, 503, False),
        ("New", 2, 204, True),
        ("Preparing", 1, None, False),
    ]
    assert await any_store.pending_deliveries(job_id) == 0
    assert [a.attempt for a in await any_store.delivery_attempts(job_id, 2)] == [2, 1]  # the latest, oldest first


async def test_a_dropped_event_is_gone(any_store: Store) -> None:
    job_id = await new_job(any_store)
    (new,) = await any_store.due_deliveries(time.time() + 10**10, 10)
    await any_store.drop_deliveries([new.id])
    assert await any_store.pending_deliveries(job_id) == 0


# --- the notifier ---------------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(SECRET).start()
    yield started
    started.stop()


async def test_the_notifier_sends_each_jobs_events_in_order_and_retries_a_failure(
    live_store: Store, receiver: Receiver
) -> None:
    settings = Settings(webhook_retry_seconds=10.0, webhook_give_up_seconds=3600.0)
    job_id = await new_job(live_store, webhook=WebhookTarget(receiver.url, SECRET))
    unhooked = await new_job(live_store, "t-2")  # no webhook, and its account has none: dropped, never sent
    assert await live_store.transition(job_id, JobStatus.PREPARING, "reading")
    clock = ManualClock(time.time())  # near the real clock: the receiver checks the signatures' timestamps
    notifier = Notifier(live_store, settings, clock=clock)
    try:
        receiver.failing = True
        await notifier.send_due()
        assert [p.body["status"] for p in receiver.posts()] == ["New"]
        assert await live_store.pending_deliveries(unhooked) == 0
        await notifier.send_due()
        assert len(receiver.posts()) == 1  # not yet due again: it waits 7.5 to 10 s (jitter)
        receiver.failing = False
        clock.advance(10)
        while await notifier.send_due():
            pass
    finally:
        await notifier.stop()

    assert [(p.body["status"], p.answered) for p in receiver.posts()] == [
        ("New", 500),
        ("New", 204),
        ("Preparing", 204),
    ]
    assert all(p.verified for p in receiver.posts())
    assert len({p.delivery for p in receiver.posts()}) == 2  # a retried event keeps its delivery id


class SlowToLetGo(MemoryStore):
    """An outbox whose read, once cancelled, takes a moment to let go (a database call winding down)."""

    def __init__(self) -> None:
        super().__init__()
        self.letting_go = asyncio.Event()

    async def due_deliveries(self, now: float, limit: int) -> list[PendingDelivery]:
        try:
            await asyncio.Event().wait()  # never set: the read waits until cancelled
        except asyncio.CancelledError:
            self.letting_go.set()
            await asyncio.sleep(0.2)
            raise
        return []


async def test_a_cancelled_notifier_stop_is_not_swallowed() -> None:
    store = SlowToLetGo()
    notifier = Notifier(store, Settings())
    await notifier.start()
    stopping = asyncio.create_task(notifier.stop())
    async with asyncio.timeout(5):
        await store.letting_go.wait()
    stopping.cancel()  # the shutdown that called stop() gave up waiting: it must see its own cancel
    await asyncio.gather(stopping, return_exceptions=True)
    assert stopping.cancelled()
