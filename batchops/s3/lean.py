"""The lean S3 client: signed HTTP requests over one tuned aiohttp connection pool per store.

botocore spends most of a small request's CPU on serialising from its model, event hooks, the user
agent and signing; for the few calls the hot operations make (batchops.s3.fast) batchops builds the
request itself, signs it (batchops.s3.signer) and sends it here. This module gives those calls what the
SDK gave them: retries with exponential backoff and full jitter of 5xx, 503 SlowDown and other
throttling answers, timeouts and connection errors (``max_attempts`` tries in all), an adaptive
in-flight limit per store (batchops.s3.adaptive), a circuit breaker per store (batchops.s3.breaker: while
the store is down, requests wait for it and the attempts that failed from the outage do not count), and
failures raised as botocore's exceptions with the same ``response`` structure (``Error.Code``/``Message``,
``ResponseMetadata.HTTPStatusCode``), so batchops.s3.errors maps them exactly as before.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.client import responses as reasons
from typing import Any, Protocol
from urllib.parse import quote
from xml.etree.ElementTree import Element, ParseError, fromstring

import aiohttp
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from yarl import URL

from batchops.s3.adaptive import AdaptiveLimit
from batchops.s3.breaker import WATCH_ONLY, CircuitBreaker, answer_outage, outage_of
from batchops.s3.observe import StoreMetrics
from batchops.s3.overload import FAILING_STATUSES, THROTTLE_CODES
from batchops.s3.ratecap import RequestRate, take_tokens
from batchops.s3.signer import EMPTY_SHA256, Signer

#: Answers retried like botocore retries them (besides every 500, 502, 503 and 504).
RETRY_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
    }
)
#: First retry waits up to this long; each further one up to twice as long, at most ``MAX_BACKOFF``.
BASE_BACKOFF = 0.25
MAX_BACKOFF = 20.0


class StreamedBody(Protocol):
    """A request body aiohttp sends slice by slice (each __aiter__ starts from its beginning)."""

    def __len__(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[memoryview]: ...


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the store."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    attempts: int

    def metadata(self) -> dict[str, Any]:
        """botocore's ``ResponseMetadata``."""
        meta: dict[str, Any] = {
            "HTTPStatusCode": self.status,
            "HTTPHeaders": self.headers,
            "RetryAttempts": self.attempts - 1,
        }
        if "x-amz-request-id" in self.headers:
            meta["RequestId"] = self.headers["x-amz-request-id"]
        if "x-amz-id-2" in self.headers:
            meta["HostId"] = self.headers["x-amz-id-2"]
        return meta


def key_path(bucket: str, key: str | None = None) -> str:
    """The path-style request path, encoded like botocore encodes it (keys keep ``/`` and ``~``)."""
    path = "/" + quote(bucket, safe="")
    return path if key is None else f"{path}/{quote(key, safe='/~')}"


def query_string(query: list[tuple[str, str]]) -> str:
    return "&".join(quote(k, safe="-_.~") + (f"={quote(v, safe='-_.~')}" if v else "") for k, v in query)


class LeanSession:
    """Signed requests to one store: one connection pool, one signer, one adaptive limit."""

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        max_connections: int = 64,
        max_attempts: int = 6,
        timeout: float = 30.0,
        breaker: CircuitBreaker | None = None,
        store_rate: RequestRate | None = None,
    ) -> None:
        endpoint = URL(endpoint_url or f"https://s3.{region}.amazonaws.com")
        self.endpoint = str(endpoint.origin())
        self.host = endpoint.raw_host or ""
        if not endpoint.is_default_port():
            self.host += f":{endpoint.port}"
        self.signer = Signer(access_key_id, secret_access_key, region)
        self.limit = AdaptiveLimit(max_connections)
        self.metrics = StoreMetrics(self.endpoint)
        self.breaker = breaker or CircuitBreaker(self.endpoint, WATCH_ONLY)
        #: The endpoint's request cap (``[[store_rates]]``), or None.
        self.store_rate = store_rate
        self.max_attempts = max(1, max_attempts)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        #: Requests sent (every attempt counts).
        self.sent = 0

    async def __aenter__(self) -> LeanSession:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
        )
        self.metrics.watch(self.limit)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            self.metrics.forget(self.limit)
            await self._session.close()
            self._session = None

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | StreamedBody = b"",
        content_md5: bool = False,
        payload_hash: str | None = None,
    ) -> Answer:
        """Send one request (retried as the SDK would); an error answer raises ClientError.

        A ``StreamedBody`` (sent a slice at a time, again from its start on a retry) comes with its
        ``payload_hash``, the SHA-256 its producer computed as the bytes came in.
        """
        query = query or []
        headers = dict(headers or {})
        if payload_hash is None:
            assert isinstance(body, bytes), "a streamed body comes with its payload hash"
            if content_md5:
                headers["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
            payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        else:
            headers["content-length"] = str(len(body))
        qs = query_string(query)
        url = URL(f"{self.endpoint}{path}{'?' + qs if qs else ''}", encoded=True)
        attempt = tries = 0
        while True:
            ticket = await self.breaker.admit()
            attempt, tries = attempt + 1, tries + 1
            try:
                answer, failure = await self._attempt(
                    operation, method, url, path, query, headers, payload_hash, body, tries
                )
            except BaseException:
                self.breaker.abandon(ticket)
                raise
            outage = outage_in(answer, failure)
            self.breaker.record(ticket, outage)
            error = error_of(answer, operation, method) if answer is not None else failure
            if error is None:
                assert answer is not None
                return answer
            if outage is not None and self.breaker.is_open:
                attempt -= 1  # the store is down, not this request: it waits for the store and keeps its tries
                continue
            final = attempt >= self.max_attempts
            if isinstance(error, ClientError) and (final or not retryable(error)):
                error.response["ResponseMetadata"]["MaxAttemptsReached"] = final
                raise error
            if final:
                raise error
            await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (attempt - 1))))

    async def _attempt(
        self,
        operation: str,
        method: str,
        url: URL,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        payload_hash: str,
        body: bytes | StreamedBody,
        attempt: int,
    ) -> tuple[Answer | None, Exception | None]:
        """One try under the adaptive limit: the answer, or the connection/timeout error."""
        assert self._session is not None, "use LeanSession as an async context manager"
        await take_tokens(self.store_rate)  # before the adaptive slot: a capped request holds no slot while it waits
        signed = self.signer.sign(method, self.host, path, query, headers, payload_hash)
        await self.limit.acquire()
        self.metrics.limit_moved()
        self.sent += 1
        started = time.monotonic()
        try:
            async with self._session.request(method, url, headers=signed, data=body or None) as response:
                payload = await response.read()
                answer = Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, payload, attempt)
        except TimeoutError as exc:
            self._released(operation, started, None, congested=True)
            return None, ReadTimeoutError(endpoint_url=str(url), error=exc)
        except aiohttp.ClientError as exc:
            self._released(operation, started, None, congested=False)
            return None, EndpointConnectionError(endpoint_url=str(url), error=exc)
        except BaseException:
            self.limit.release(None, congested=False)
            self.metrics.limit_moved()
            raise
        throttled = answer.status in (429, 503) or (answer.status >= 400 and error_code(answer) in THROTTLE_CODES)
        self._released(operation, started, answer, congested=throttled)
        return answer, None

    def _released(self, operation: str, started: float, answer: Answer | None, congested: bool) -> None:
        """Give the attempt's slot back (its latency feeds the limit only if answered) and report it: a timeout
        or a broken connection counts in the latency too (it is what the task waited), not as throttling."""
        seconds = time.monotonic() - started
        self.limit.release(seconds if answer is not None else None, congested=congested)
        self.metrics.limit_moved()
        self.metrics.answered(operation, seconds, throttled=congested and answer is not None)


# --- errors ------------------------------------------------------------------------------------


def error_of(answer: Answer, operation: str, method: str) -> ClientError | None:
    """The ClientError botocore would raise for this answer (None for a success).

    S3 may answer CopyObject (and other calls with an XML result) 200 with an ``<Error>`` body when it
    failed after sending the status line; like botocore, that is a 500 InternalError, retried.
    """
    status = answer.status
    if status < 300:
        if not (answer.body.startswith(b"<") and b"<Error>" in answer.body[:200]):
            return None
        status = 500
    fields = _error_fields(answer.body) if method != "HEAD" else {}
    error = {
        "Code": fields.get("Code") or str(status),
        "Message": fields.get("Message") or reasons.get(status, ""),
        **{k: v for k, v in fields.items() if k not in ("Code", "Message")},
    }
    meta = answer.metadata()
    meta["HTTPStatusCode"] = status
    return ClientError({"Error": error, "ResponseMetadata": meta}, operation)


def outage_in(answer: Answer | None, failure: Exception | None) -> str | None:
    """What the breaker is told of one attempt: an outage's description, or None (the store answered)."""
    if answer is None:
        return outage_of(failure) if failure is not None else None
    return answer_outage(answer.status, error_code(answer)) if answer.status >= 400 else None


def error_code(answer: Answer) -> str | None:
    return _error_fields(answer.body).get("Code")


def retryable(error: ClientError) -> bool:
    status = int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return status in FAILING_STATUSES or error.response["Error"].get("Code") in RETRY_CODES


def _error_fields(body: bytes) -> dict[str, str]:
    root = parse_xml(body)
    return {} if root is None else leaf_fields(root)


# --- XML ---------------------------------------------------------------------------------------


def parse_xml(body: bytes) -> Element | None:
    """The root element of an answer from the store (like botocore, the store's XML is trusted)."""
    if not body.strip():
        return None
    try:
        return fromstring(body)
    except ParseError:
        return None


def leaf_fields(element: Element) -> dict[str, str]:
    """An element's childless children, name (without namespace) → text."""
    return {local(child.tag): child.text or "" for child in element if len(child) == 0}


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]
