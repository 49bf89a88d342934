"""Invoking the functions of LambdaInvoke jobs: an HTTP endpoint (webhook) or a Python entry point.

``[[functions]]`` in the config maps each FunctionArn to one of them (batchops.tenancy.FunctionTarget).
A webhook receives the invocation event as the JSON body of a POST and answers the response JSON; an
entry point (``package.module:callable``, sync or async) is called with the event dict and returns the
response dict (or its JSON text). Sync callables run in a worker thread so they never block the engine.
The engine owns one invoker, so every webhook call shares one HTTP connection pool.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import aiohttp

from batchops.errors import FunctionError
from batchops.tenancy import FunctionTarget

#: Answers that mean "the endpoint is busy or restarting", not "the function failed": retried.
TRANSIENT_HTTP = frozenset({429, 502, 503, 504})


class FunctionInvoker:
    def __init__(self, targets: Sequence[FunctionTarget]) -> None:
        self._targets = {target.arn: target for target in targets}
        self._session: aiohttp.ClientSession | None = None
        self._entry_points: dict[str, Callable[..., Any]] = {}

    async def __aenter__(self) -> FunctionInvoker:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def target(self, arn: str) -> FunctionTarget | None:
        return self._targets.get(arn)

    async def invoke(self, target: FunctionTarget, event: dict[str, Any]) -> dict[str, Any]:
        """One invocation; the function's response object. Raises FunctionError."""
        try:
            async with asyncio.timeout(target.timeout_seconds):
                raw = await (self._post(target.url, event) if target.url else self._call(target, event))
        except TimeoutError:
            raise FunctionError(
                _error_json("TimeoutError", f"Task timed out after {target.timeout_seconds:.2f} seconds"),
                transient=False,
            ) from None
        return _response_object(raw)

    async def _post(self, url: str, event: dict[str, Any]) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(url, json=event) as response:
                body = await response.text(errors="replace")
                status = response.status
        except aiohttp.ClientError as exc:
            raise FunctionError(f"could not reach {url}: {exc}", transient=True) from None
        if status in TRANSIENT_HTTP:
            raise FunctionError(f"{url} answered HTTP {status}: {body[:300]}", transient=True)
        if not 200 <= status < 300:
            raise FunctionError(
                _error_json("HTTPError", f"{url} answered HTTP {status}: {body[:500]}"), transient=False
            )
        return body

    async def _call(self, target: FunctionTarget, event: dict[str, Any]) -> Any:
        function = self._entry_point(target)
        try:
            if inspect.iscoroutinefunction(function):
                return await function(event)
            result = await asyncio.to_thread(function, event)
            return await result if inspect.isawaitable(result) else result
        except Exception as exc:  # the function's own error is the task's result, as Lambda reports it
            raise FunctionError(_error_json(type(exc).__name__, str(exc)), transient=False) from None

    def _entry_point(self, target: FunctionTarget) -> Callable[..., Any]:
        name = str(target.entry_point)
        if name not in self._entry_points:
            module_name, _, attribute = name.partition(":")
            try:
                found: Any = importlib.import_module(module_name)
                for part in attribute.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError) as exc:
                message = f"entry_point {name} of function {target.arn} cannot be loaded: {exc}"
                raise FunctionError(_error_json("ImportError", message), transient=False) from None
            if not callable(found):
                raise FunctionError(_error_json("TypeError", f"entry_point {name} is not callable"), transient=False)
            self._entry_points[name] = found
        return self._entry_points[name]


def _response_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            text = raw if isinstance(raw, str) else raw.decode(errors="replace")
            raise FunctionError(
                _error_json("InvalidResponse", f"the response is not JSON: {text[:300]!r}"), transient=False
            ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), list):
        raise FunctionError(
            _error_json("InvalidResponse", "the response must be a JSON object with a results list"), transient=False
        )
    return raw


def _error_json(error_type: str, message: str) -> str:
    """A function error in Lambda's shape, so reports read like AWS's (``{"errorMessage", "errorType"}``)."""
    return json.dumps({"errorMessage": message, "errorType": error_type})
