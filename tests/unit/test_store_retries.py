"""Retry links on each store implementation: a retry names its parent, a parent lists its retries oldest first,
and noting the same retry twice (a replayed request) notes it once."""

from __future__ import annotations

import pytest

from batchops.domain.retry import RetryLinks
from batchops.store.base import Store
from tests.support.clock import ManualClock


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
