"""Listing a job's tasks (``Store.list_tasks``) on each store: by outcome, error code and key prefix, newest
first or by key, page after page with the token, and keys of any bytes (a prefix is a byte range, not LIKE)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchops.domain.task import ObjectRef, TaskOutcome, TaskStatus
from batchops.domain.tasklist import TaskOrder, TaskQuery, prefix_end, task_query
from batchops.errors import ValidationError
from batchops.store.base import Store
from tests.support.job_store import new_job
from tests.support.strategies import hostile_text

F, S = TaskStatus.FAILED, TaskStatus.SUCCEEDED


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def outcome(seq: int, key: str, status: TaskStatus = F, code: str = "AccessDenied") -> TaskOutcome:
    http = 200 if status is S else 403
    return TaskOutcome(seq, status, http, "" if status is S else code, "", ObjectRef("bkt", key))


async def every_page(store: Store, job_id: str, query: TaskQuery) -> list[tuple[int, str]]:
    """(seq, key) of every task the listing yields, following its tokens; checks no page is empty but the last."""
    found: list[tuple[int, str]] = []
    token = None
    while True:
        page = await store.list_tasks(job_id, TaskQuery(**{**query.__dict__, "token": token}))
        found += [(task.seq, task.row.key) for task in page.tasks]
        if page.next_token is None:
            return found
        assert page.tasks, "a page with a next token holds tasks"
        token = page.next_token


async def test_failures_newest_first_page_by_page(store: Store) -> None:
    job_id = await new_job(store)
    outcomes = [outcome(seq, f"k{seq:02d}", F if seq % 3 else S) for seq in range(20)]
    await store.record_outcomes(job_id, outcomes, [])
    failed = [(o.seq, o.target.key) for o in reversed(outcomes) if o.status is F and o.target]

    assert await every_page(store, job_id, TaskQuery(limit=4)) == failed
    first = await store.list_tasks(job_id, TaskQuery(limit=100))
    assert first.next_token is None and len(first.tasks) == len(failed)
    assert all(task.row.status is F and task.row.error_code == "AccessDenied" for task in first.tasks)


async def test_succeeded_on_request_and_by_key(store: Store) -> None:
    job_id = await new_job(store)
    keys = ["b/2", "a/1", "c", "a/0", "b/1"]
    await store.record_outcomes(job_id, [outcome(seq, key, S) for seq, key in enumerate(keys)], [])

    by_key = await every_page(store, job_id, TaskQuery(status=S, order=TaskOrder.KEY, limit=2))
    assert [key for _, key in by_key] == sorted(keys)
    assert await every_page(store, job_id, TaskQuery(status=F)) == []


async def test_filtered_by_error_code_and_prefix(store: Store) -> None:
    job_id = await new_job(store)
    rows = [
        outcome(0, "logs/a", code="AccessDenied"),
        outcome(1, "logs/b", code="NoSuchKey"),
        outcome(2, "data/c", code="NoSuchKey"),
        outcome(3, "logs/d", code="SlowDown"),
        outcome(4, "logsx", code="NoSuchKey"),
        outcome(5, "logs/e", S),
    ]
    await store.record_outcomes(job_id, rows, [])

    codes = await every_page(store, job_id, TaskQuery(error_codes=("NoSuchKey",), limit=1))
    assert codes == [(4, "logsx"), (2, "data/c"), (1, "logs/b")]
    prefixed = await every_page(store, job_id, TaskQuery(prefix="logs/", limit=1))
    assert prefixed == [(3, "logs/d"), (1, "logs/b"), (0, "logs/a")]
    both = TaskQuery(error_codes=("NoSuchKey", "SlowDown"), prefix="logs/", order=TaskOrder.KEY)
    assert await every_page(store, job_id, both) == [(1, "logs/b"), (3, "logs/d")]


async def test_equal_keys_page_apart_by_seq(store: Store) -> None:
    job_id = await new_job(store)
    await store.record_outcomes(job_id, [outcome(seq, "same") for seq in range(5)], [])
    listed = await every_page(store, job_id, TaskQuery(order=TaskOrder.KEY, limit=2))
    assert listed == [(seq, "same") for seq in range(5)]


async def test_prefix_with_like_wildcards_and_the_highest_bytes(store: Store) -> None:
    job_id = await new_job(store)
    keys = ["100%", "100%/x", "1000", "a_b", "axb", "\U0010ffff\U0010ffffz", "\U0010ffff", "\x7f\x7f", "\x7f\x80"]
    await store.record_outcomes(job_id, [outcome(seq, key) for seq, key in enumerate(keys)], [])

    for prefix in ["100%", "a_", "\U0010ffff", "\x7f"]:
        listed = await every_page(store, job_id, TaskQuery(prefix=prefix, order=TaskOrder.KEY))
        assert [key for _, key in listed] == sorted(k for k in keys if k.startswith(prefix)), prefix


async def test_a_key_that_is_not_utf8_is_listed_and_found_by_its_prefix(store: Store) -> None:
    job_id = await new_job(store)
    raw = b"bad-\xff\xfe".decode("utf-8", "surrogateescape")
    await store.record_outcomes(job_id, [outcome(0, raw, S), outcome(1, "bad-ok")], [])

    listed = await every_page(store, job_id, TaskQuery(prefix="bad-", order=TaskOrder.KEY, limit=1))
    assert sorted(key for _, key in listed) == sorted([raw, "bad-ok"])  # failed as KeyNotUTF8, key kept exactly
    assert await every_page(store, job_id, TaskQuery(prefix=raw)) == [(0, raw)]


async def test_another_jobs_tasks_are_not_listed(store: Store) -> None:
    mine, other = await new_job(store), await new_job(store, token="token-2")
    await store.record_outcomes(other, [outcome(0, "theirs")], [])
    assert (await store.list_tasks(mine, TaskQuery())).tasks == []


async def test_a_token_only_continues_its_own_listing(store: Store) -> None:
    job_id = await new_job(store)
    await store.record_outcomes(job_id, [outcome(seq, f"k{seq}") for seq in range(3)], [])
    token = (await store.list_tasks(job_id, TaskQuery(limit=1))).next_token
    assert token

    with pytest.raises(ValidationError, match="other filters"):
        await store.list_tasks(job_id, TaskQuery(limit=1, prefix="k", token=token))
    with pytest.raises(ValidationError, match="not a token this server gave"):
        await store.list_tasks(job_id, TaskQuery(token=token[:-3] + "!!!"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(hostile_text, min_size=1, max_size=8, unique=True), prefix=hostile_text)
async def test_hostile_keys_and_prefixes_list_exactly(store: Store, keys: list[str], prefix: str) -> None:
    job_id = await new_job(store, token=uuid.uuid4().hex)  # one store serves every example: a job each
    keys = [*keys, prefix + keys[0]]
    await store.record_outcomes(job_id, [outcome(seq, key) for seq, key in enumerate(keys)], [])

    listed = await every_page(store, job_id, TaskQuery(order=TaskOrder.KEY, limit=3))
    assert [key for _, key in listed] == sorted(keys, key=lambda k: k.encode())
    chosen = await every_page(store, job_id, TaskQuery(prefix=prefix, limit=2))
    assert sorted(chosen) == sorted((seq, k) for seq, k in enumerate(keys) if k.startswith(prefix))


# --- the query as a request spells it -------------------------------------------------------


def test_request_values_are_checked_and_name_what_to_send() -> None:
    assert task_query() == TaskQuery()
    query = task_query("succeeded", ("A", "B", "A"), "p/", "KEY", "7", "t")
    assert query == TaskQuery(S, ("A", "B"), "p/", TaskOrder.KEY, 7, "t")
    for kwargs, said in [
        ({"status": "Pending"}, "status must be Failed or Succeeded"),
        ({"order": "oldest"}, "order must be newest or key"),
        ({"max_results": "0"}, "maxResults must be a whole number from 1 to 1000"),
        ({"max_results": "x"}, "maxResults"),
        ({"prefix": "x" * 1025}, "prefix must be at most 1024 bytes"),
        ({"error_codes": tuple(str(n) for n in range(21))}, "errorCode may be given at most 20 times"),
    ]:
        with pytest.raises(ValidationError, match=said):
            task_query(**kwargs)  # type: ignore[arg-type]


def test_prefix_end_is_the_least_string_past_the_prefix() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff\xff") == b"b"
    assert prefix_end(b"\xff") is None
    assert prefix_end(b"") is None
