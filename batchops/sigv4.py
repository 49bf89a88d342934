"""AWS Signature Version 4 maths: the canonical request and the signature.

Shared by the two sides that sign: the inbound verifier (batchops.auth.sigv4, which checks what clients
sent) and the outbound lean S3 client's signer (batchops.s3.signer); neither imports the other.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_text(
    method: str, raw_path: str, query: list[tuple[str, str]], headers: list[tuple[str, str]], payload_hash: str
) -> str:
    """SigV4's canonical request: ``headers`` are the signed (lower-case name, trimmed value) pairs, in order."""
    return "\n".join(
        [
            method.upper(),
            raw_path or "/",
            canonical_query(query),
            "".join(f"{name}:{value}\n" for name, value in headers),
            ";".join(name for name, _ in headers),
            payload_hash,
        ]
    )


def canonical_query(query: list[tuple[str, str]]) -> str:
    """Decoded query pairs as SigV4's canonical query string: each part encoded the AWS way, sorted."""
    return "&".join(f"{key}={value}" for key, value in sorted((_encode(k), _encode(v)) for k, v in query))


def sign(secret: str, timestamp: str, date: str, region: str, service: str, canonical: str) -> str:
    """The hex signature of a canonical request (shared by the verifier and the lean S3 client's signer)."""
    return sign_with_key(signing_key(secret, date, region, service), timestamp, date, region, service, canonical)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of one day, region and service (callers may cache it for the day)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign_with_key(key: bytes, timestamp: str, date: str, region: str, service: str, canonical: str) -> str:
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
