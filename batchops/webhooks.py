"""Signed webhook notifications: how batchops signs each delivery, and the check a receiver runs.

Every POST carries ``X-Batchops-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256(secret, f"{t}.".encode() + body). A receiver recomputes it over the raw body it read, compares in
constant time, and refuses a timestamp older (or newer) than its tolerance, so a captured delivery cannot be
replayed later::

    from batchops.webhooks import verify

    if not verify(request_body, request.headers["X-Batchops-Signature"], secret):
        return 401

``X-Batchops-Event`` names the event and ``X-Batchops-Delivery`` identifies the delivery: a retried delivery
keeps its id, so a receiver that saw it already can answer 2xx and skip it.

It also holds the rules a webhook's URL and secret follow (CreateJob's BatchOpsWebhook, an account's
webhook_url and webhook_secret). It imports only batchops.errors: a receiver imports it cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from batchops.errors import ValidationError

SIGNATURE_HEADER = "X-Batchops-Signature"
EVENT_HEADER = "X-Batchops-Event"
DELIVERY_HEADER = "X-Batchops-Delivery"
#: How far (seconds) a signature's timestamp may be from the receiver's clock by default.
DEFAULT_TOLERANCE = 300

MAX_URL_LENGTH = 2048
MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 256


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` followed by the body, keyed with the secret."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``X-Batchops-Signature`` value for this body, signed now (or at ``timestamp``)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(body, secret, moment)}"


def verify(
    body: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE, *, now: float | None = None
) -> bool:
    """True when ``header`` (an ``X-Batchops-Signature`` value) signs ``body`` with ``secret`` and its timestamp
    is within ``tolerance`` seconds of now. Any malformed header is simply False."""
    parts = _parts(header)
    stamp = parts.get("t", "")
    if not stamp.isdigit():
        return False
    moment = int(stamp)
    clock = time.time() if now is None else now
    if abs(clock - moment) > tolerance:
        return False
    expected = signature(body, secret, moment)
    # Any v1 may match (a future key rotation could send two); each compared in constant time.
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1s", "").split(" ") if given)


def _parts(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    signatures: list[str] = []
    for piece in header.split(","):
        name, _, value = piece.strip().partition("=")
        if name == "v1":
            signatures.append(value.strip())
        elif name == "t":
            found["t"] = value.strip()
    found["v1s"] = " ".join(signatures)
    return found


def check_url(url: str, name: str) -> str:
    """An http(s) URL with a host, at most MAX_URL_LENGTH characters; ValidationError naming the fix."""
    if not 1 <= len(url) <= MAX_URL_LENGTH:
        raise ValidationError(f"{name} must be 1 to {MAX_URL_LENGTH} characters, not {len(url)}", field=name)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{name} must be an http:// or https:// URL with a host, e.g. https://hooks.example.com/batchops; "
            f"got {url!r}",
            field=name,
        )
    return url


def check_secret(secret: str, name: str) -> str:
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise ValidationError(
            f"{name} must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters (the receiver's shared secret "
            f"for HMAC-SHA256), not {len(secret)}",
            field=name,
        )
    return secret
