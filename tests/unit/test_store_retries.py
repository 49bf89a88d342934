"""Retry links on each store implementation: a retry names its parent, a parent lists its retries oldest first,
and noting the same retry twice (a replayed request) notes it once; a purged retry is unlisted."""

from __future__ import annotations

import pytest

from batchops.domain.retry import RetryLinks
from batchops.domain.status import JobStatus
from batchops.store.base import Store
from tests.support.clock import T0, ManualClock
from tests.support.job_store import drive, new_job


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def test_links_read_both_ways(store: Store, clock: ManualClock) -> None:
    await store.link_retry("parent", "retry-b")
    clock.advance(1)
    await store.link_retry("parent", "retry-a")
    await store.link_retry("retry-b", "retry-of-retry")

    assert await store.retry_links("parent") == RetryLinks(None, ("retry-b", "retry-a"))
    assert await store.retry_links("retry-b") == RetryLinks("parent", ("retry-of-retry",))
    assert await store.retry_links("unrelated") == RetryLinks()


async def test_a_replayed_link_is_noted_once(store: Store) -> None:
    await store.link_retry("parent", "retry")
    await store.link_retry("parent", "retry")

    assert await store.retry_links("parent") == RetryLinks(None, ("retry",))


async def test_purging_a_retry_unlists_it_and_its_parent_stays_named(store: Store, clock: ManualClock) -> None:
    parent, retry, kept = [await new_job(store, token=name) for name in ("parent", "retry", "kept")]
    await store.link_retry(parent, retry)
    await store.link_retry(retry, kept)
    for ended in (parent, retry):
        await drive(store, ended, JobStatus.CANCELLING, JobStatus.CANCELLED)  # ends at T0
    clock.advance(10)

    assert await store.purge_ended_before(T0 + 5) == 2

    assert await store.retry_links(parent) == RetryLinks()
    assert await store.retry_links(kept) == RetryLinks(retry, ())  # the id it retried, as DescribeJob showed it
