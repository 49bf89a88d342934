"""A signed-in console session over plain HTTP (no browser), and the CSRF token of a page."""

from __future__ import annotations

import re

import httpx

from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import Server


def console_session(server: Server, identity: str = ACCESS_KEY, secret: str = SECRET_KEY) -> tuple[httpx.Client, str]:
    """A signed-in console session over plain HTTP, and its CSRF token."""
    client = httpx.Client(base_url=f"{server.url}/console", follow_redirects=False, timeout=10)
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"identity": identity, "secret": secret, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client.get("/jobs").text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
