"""Test functions for LambdaInvoke jobs: one behaviour per key prefix, served as a webhook or an entry point.

``ok/…`` Succeeded · ``perm/…`` PermanentFailure · ``retry-once/…`` TemporaryFailure on the first call for
that key, then Succeeded · ``busy/…`` always TemporaryFailure · ``crash/…`` the function itself fails.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from batchops.devstore import free_port

#: The repository root: a server's PYTHONPATH, so that it can import the entry points in this module.
REPO = Path(__file__).resolve().parents[2]
WEBHOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:webhook"
ENTRY_POINT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:in-process"


class Behaviour:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def respond(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.events.append(event)
            task = event["tasks"][0]
            key = unquote(task["s3Key"])
            self._calls[key] = calls = self._calls.get(key, 0) + 1
        if key.startswith("crash/"):
            raise RuntimeError(f"cannot open {key}")
        code, result = "Succeeded", f"processed {key} with {event['job'].get('userArguments', {})}"
        if key.startswith("perm/"):
            code, result = "PermanentFailure", f"{key} is not an image"
        elif key.startswith("busy/") or (key.startswith("retry-once/") and calls == 1):
            code, result = "TemporaryFailure", "downstream busy"
        return {
            "invocationSchemaVersion": event["invocationSchemaVersion"],
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": event["invocationId"],
            "results": [{"taskId": task["taskId"], "resultCode": code, "resultString": result}],
        }

    def calls(self, key: str) -> int:
        return self._calls.get(key, 0)


#: The entry point's state lives in the server process that imports this module.
_ENTRY_POINT = Behaviour()


async def async_handler(event: dict[str, Any]) -> dict[str, Any]:
    return _ENTRY_POINT.respond(event)


def handler(event: dict[str, Any]) -> dict[str, Any]:
    return _ENTRY_POINT.respond(event)


class Webhook:
    """A real HTTP endpoint on a free port, answering each event with ``respond`` (by default the shared
    ``Behaviour``'s); a function error (RuntimeError) answers HTTP 500."""

    def __init__(self, respond: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.behaviour = Behaviour()
        answer = respond or self.behaviour.respond

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    status, body = 200, json.dumps(answer(event)).encode()
                except RuntimeError as exc:
                    status, body = 500, str(exc).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/invoke"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
