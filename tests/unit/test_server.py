"""The composition root (batchops.server.build_app): the API at the root and the console at /console/ on one set
of services, the body guard around both, and the engine's lifespan. Driven through the whole ASGI stack on a
real SQLite store in a temporary directory; no engine runs except in the lifespan test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchops.server import build_app
from batchops.settings import Settings
from batchops.store.base import Store, WriteFault
from batchops.tenancy import Account

ACCOUNT, KEY_ID, SECRET = "111122223333", "AKIDSERVER", "server-secret"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, accounts=(Account(ACCOUNT, KEY_ID, SECRET),))


def client_of(settings: Settings, store: Store) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app(settings, store))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def test_healthz_reads_the_write_fault_of_the_store_the_server_opened(settings: Settings, store: Store) -> None:
    client = client_of(settings, store)
    assert (await client.get("/healthz")).json() == {"status": "ok", "role": "leader"}
    store.write_fault = WriteFault("database or disk is full", 0.0)
    reply = await client.get("/healthz")
    assert reply.status_code == 503
    assert "disk is full" in reply.json()["reason"]


async def test_paths_outside_the_console_are_the_apis_and_answer_in_its_dialect(
    settings: Settings, store: Store
) -> None:
    client = client_of(settings, store)
    s3control = await client.get("/v20180820/no-such-thing")
    assert s3control.status_code == 404
    assert "<Code>NotFoundException</Code>" in s3control.text
    cos = await client.get("/jobs/a/b/c", headers={"x-cos-appid": "1250000000"})
    assert cos.status_code == 404
    assert "<Code>NoSuchResource</Code>" in cos.text


async def test_the_console_is_mounted_at_console_and_its_bare_path_redirects(settings: Settings, store: Store) -> None:
    client = client_of(settings, store)
    bare = await client.get("/console")
    assert (bare.status_code, bare.headers["location"]) == (307, "http://testserver/console/")
    home = await client.get("/console/")
    assert (home.status_code, home.headers["location"]) == (303, "/console/login")
    login = await client.get("/console/login")
    assert login.status_code == 200
    assert "content-security-policy" in login.headers


async def test_a_console_sign_in_uses_the_servers_store_and_job_service(settings: Settings, store: Store) -> None:
    client = client_of(settings, store)
    token = csrf_of((await client.get("/console/login")).text)
    signed_in = await client.post("/console/login", data={"identity": KEY_ID, "secret": SECRET, "csrf_token": token})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/console/jobs")
    # The session middleware finds the session in the store (else it would clear it, and /jobs would redirect)
    jobs = await client.get("/console/jobs")
    assert jobs.status_code == 200
    assert ACCOUNT in jobs.text


@pytest.mark.parametrize("path", ["/v20180820/no-such-thing", "/console/login"])
async def test_an_answer_sent_before_the_body_was_read_closes_the_connection(
    settings: Settings, store: Store, path: str
) -> None:
    # Given a body no route reads (a JSON sign-in is refused from its headers; an unknown API path is refused)
    client = client_of(settings, store)
    reply = await client.post(path, content=b'{"a": 1}', headers={"content-type": "application/json"})
    # Then the body guard around the whole app says the connection closes
    assert reply.status_code in (400, 404)
    assert reply.headers["connection"] == "close"


async def test_the_lifespan_starts_the_engine_and_stops_it(settings: Settings, store: Store) -> None:
    app = build_app(settings, store)
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
