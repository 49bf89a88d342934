"""Console helpers: a signed-in session over plain HTTP (no browser) and the CSRF token of a page; screenshots of
a browser page at desktop and phone width, with a check that the page fits each."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page

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


# --- screenshots at desktop and phone width ------------------------------------------------------

#: Desktop and phone (an iPhone 12 to 15 is 390 CSS px wide).
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
#: A wrapped value narrower than this (CSS px, about 15 monospace characters a line) reads as a column of
#: fragments: an ID or key squeezed to a few characters per line.
NARROWEST_WRAPPED_VALUE = 110

_LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) problems.push(`the page is ${page.scrollWidth} px wide`);
  const header = document.querySelector("header.top");
  if (header && header.scrollWidth > header.clientWidth) problems.push("the header is clipped");
  for (const id of document.querySelectorAll(".id")) {
    if (id.getClientRects().length > 1) problems.push(`the ID ${id.textContent} breaks across lines`);
  }
  for (const value of document.querySelectorAll(".mono")) {
    const lines = value.getClientRects().length;
    const width = value.getBoundingClientRect().width;
    if (lines > 1 && width < NARROWEST) problems.push(`${value.textContent} is squeezed to ${width} px`);
  }
  return problems;
}"""


def layout_problems(page: Page) -> list[str]:
    """What does not fit the page's width: page or header wider than the screen, IDs or keys squeezed."""
    problems: list[str] = page.evaluate(_LAYOUT_PROBLEMS.replace("NARROWEST", str(NARROWEST_WRAPPED_VALUE)))
    return problems


def screenshots(page: Page, artifacts_dir: Path, name: str) -> list[Path]:
    """Full-page screenshots at desktop and phone width, in test-artifacts/screenshots/; each width must fit."""
    size = page.viewport_size
    taken = []
    try:
        for label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            path = artifacts_dir / "screenshots" / f"{name}-{label}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
            taken.append(path)
            assert layout_problems(page) == [], f"{name} at {width} px"
    finally:
        if size is not None:
            page.set_viewport_size(size)
    return taken
