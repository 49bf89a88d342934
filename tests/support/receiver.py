"""A real webhook receiver for the tests: a threaded HTTP server on a free port that checks every POST's signature
with ``batchops.webhooks.verify``, answers 204 (or 500 while ``failing``), and can go down and come back on the
same port."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from batchops import webhooks
from batchops.devstore import free_port


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    body: dict[str, Any]
    raw: bytes
    signature: str
    event: str
    delivery: str
    verified: bool
    answered: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.answered < 300


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # back on the same port at once after ``stop``
    daemon_threads = True


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.failing = False
        self._posts: list[Received] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/batchops"

    def posts(self) -> list[Received]:
        with self._lock:
            return list(self._posts)

    def accepted(self, job_id: str | None = None) -> list[Received]:
        """The events answered 2xx (those batchops counts as delivered), in the order they came."""
        return [p for p in self.posts() if p.accepted and (job_id is None or p.body["job_id"] == job_id)]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signature = self.headers.get(webhooks.SIGNATURE_HEADER, "")
                answer = 500 if receiver.failing else 204
                received = Received(
                    body=json.loads(body),
                    raw=body,
                    signature=signature,
                    event=self.headers.get(webhooks.EVENT_HEADER, ""),
                    delivery=self.headers.get(webhooks.DELIVERY_HEADER, ""),
                    verified=webhooks.verify(body, signature, receiver.secret),
                    answered=answer,
                )
                with receiver._lock:
                    receiver._posts.append(received)
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
