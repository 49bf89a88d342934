"""Fixtures for the integration tests: real ``batchops server`` processes on the test SeaweedFS, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.operations.base import TaskContext
from batchops.s3.client import StoreCredentials, open_client
from tests.support.s3 import OTHER_KEY, OTHER_SECRET, s3_client
from tests.support.server import Server


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
def start_server(seaweed: LocalSeaweed, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(
        *extra_args: str,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        s3_endpoint: str | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> Server:
        """A server on the test SeaweedFS, or on ``s3_endpoint`` (e.g. moto's server for archive restores)."""
        directory = data_dir or tmp_path / f"server-{len(servers)}"
        server = Server(directory, s3_endpoint or seaweed.endpoint, list(extra_args), env or {}, preexec=preexec)
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
