"""Fixtures for the integration tests: real ``batchops server`` processes on the test SeaweedFS, and clients.

Every test that starts a server runs twice, its server's job store on each of ``JOB_DATABASES`` (the test's id
ends ``[sqlite]`` or ``[postgresql]``): the engine and the store are checked on both. A module that only makes
sense on one says so, and why, with ``pytestmark = pytest.mark.job_databases("sqlite", reason=...)``. Those kept
on SQLite alone are the edge's tests, whose subject is before or beside the store (signatures, the console's
browser pages, request fuzzing, abusive connections, bad input refused before a job exists), and the tests of
SQLite itself (its file on a full disk). The request fuzzer's server, built by a module fixture, runs on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.operations.base import TaskContext
from batchops.s3.client import StoreCredentials, open_client
from tests.support import postgres
from tests.support.s3 import OTHER_KEY, OTHER_SECRET, s3_client
from tests.support.server import Server
from tests.support.workers import QueueWorker, StartWorkers, start_worker

#: The job stores the servers of the integration tests run on: SQLite (the file in the server's data dir, the
#: default) and PostgreSQL (``--database``, a database on the local server).
JOB_DATABASES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "job_databases(*kinds, reason): the job stores this test's servers run on (default: all)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The one parametrisation of the job store: each test whose servers need one runs on each kind."""
    if "job_database" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("job_databases")
        metafunc.parametrize("job_database", marker.args if marker else JOB_DATABASES, indirect=True)


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """One fresh, migrated PostgreSQL database per test module (each test empties it first), dropped after it."""
    with postgres.fresh_database() as url:
        yield url


@pytest.fixture
def job_database(request: pytest.FixtureRequest) -> str | None:
    """The ``--database`` of this test's servers: None on SQLite (a fresh file in each server's data dir), else the
    module's PostgreSQL database, emptied (no server of an earlier test runs any more)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_database")
    postgres.empty(url)
    return url


# --- the scaled-out mode: a database of the test's own and ``batchops worker`` processes ------------------------


@pytest.fixture
def queue_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one scale-out test (the queue's tables are in it too); asked for before the
    servers and workers, it is dropped after they have stopped."""
    with postgres.fresh_database() as url:
        yield url


@pytest.fixture
def queue_workers(tmp_path: Path, seaweed: LocalSeaweed, queue_database: str) -> Iterator[StartWorkers]:
    started: list[QueueWorker] = []

    def start(
        count: int, *extra_args: str, env: dict[str, str] | None = None, s3_endpoint: str | None = None
    ) -> list[QueueWorker]:
        """Workers on the test SeaweedFS (or ``s3_endpoint``), each with a directory (and log) of its own."""
        endpoint = s3_endpoint or seaweed.endpoint
        new = [
            start_worker(tmp_path / f"worker-{len(started) + n}", queue_database, endpoint, *extra_args, env=env)
            for n in range(count)
        ]
        started.extend(new)
        return new

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def other_seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSeaweed]:
    """A second store with credentials of its own: cross-store copies and replicas, roles on another store."""
    store = LocalSeaweed(tmp_path_factory.mktemp("other-seaweed"), OTHER_KEY, OTHER_SECRET).start()
    yield store
    store.stop()


@pytest.fixture(scope="module")
def other_s3(other_seaweed: LocalSeaweed) -> Any:
    """A plain boto3 S3 client on the second store."""
    return s3_client(other_seaweed.endpoint, OTHER_KEY, OTHER_SECRET)


@pytest.fixture
def start_server(
    seaweed: LocalSeaweed, tmp_path: Path, job_database: str | None
) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(
        *extra_args: str,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        s3_endpoint: str | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> Server:
        """A server on the test SeaweedFS, or on ``s3_endpoint`` (e.g. moto's server for archive restores); its
        jobs in the test's ``job_database`` (each server of a test, and a restarted one, shares it)."""
        directory = data_dir or tmp_path / f"server-{len(servers)}"
        endpoint = s3_endpoint or seaweed.endpoint
        server = Server(directory, endpoint, list(extra_args), env or {}, preexec=preexec, database=job_database)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server()


@pytest.fixture
def control(server: Server) -> Any:
    return server.client()


# --- one operation's task against the test store (test_operation_*.py) --------------------------------


@pytest.fixture
async def ctx(seaweed: LocalSeaweed) -> AsyncIterator[TaskContext]:
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield TaskContext(s3=await open_client(stack, creds), job_id="test-job")


@pytest.fixture
def bucket(new_bucket: Callable[..., str]) -> str:
    return new_bucket()


@pytest.fixture
def locked_bucket(new_bucket: Callable[..., str]) -> str:
    """Object Lock on (which also turns versioning on)."""
    return new_bucket(object_lock=True)


@pytest.fixture
def versioned_bucket(s3: Any, new_bucket: Callable[..., str]) -> str:
    name = new_bucket()
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
