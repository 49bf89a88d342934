"""Fixtures shared by every test: a real SeaweedFS (``weed mini``) on free ports, and S3 clients for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The helpers assert too: rewrite their asserts as pytest does test modules', so a failure shows its values.
pytest.register_assert_rewrite("tests.support")

from batchops.devstore import LocalSeaweed  # noqa: E402
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, s3_client  # noqa: E402


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSeaweed]:
    store = LocalSeaweed(tmp_path_factory.mktemp("seaweed"), ACCESS_KEY, SECRET_KEY).start()
    yield store
    store.stop()


@pytest.fixture(scope="session")
def s3(seaweed: LocalSeaweed) -> Any:
    """A plain boto3 S3 client on the test store (to arrange objects and check effects)."""
    return s3_client(seaweed.endpoint)


@pytest.fixture
def new_bucket(s3: Any) -> Callable[..., str]:
    """Create a fresh, uniquely named bucket; ``new_bucket(object_lock=True)`` for retention/legal hold."""

    def make(object_lock: bool = False) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name

    return make


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


#: Fixtures and parameter values that put a test on PostgreSQL: the store's contract tests (``postgres``) and the
#: integration tests' servers (``job_database`` is ``postgresql``).
POSTGRES_FIXTURES = {"postgres_database"}
POSTGRES_PARAMS = {"postgres", "postgresql"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on PostgreSQL carry the ``postgres`` marker: ``make test`` runs them, ``make test-unit`` (no services)
    leaves them out, ``-m 'not postgres'`` runs the rest."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_postgres = any(isinstance(value, str) and value in POSTGRES_PARAMS for value in params.values())
        if on_postgres or POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
