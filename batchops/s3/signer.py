"""AWS Signature Version 4 (header form) for the lean S3 client; the maths is batchops.sigv4."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from batchops.sigv4 import ALGORITHM, SERVICE, canonical_text, sign_with_key, signing_key

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


@dataclass
class Signer:
    """Signs S3 requests with one access key in one region; the day's derived key is cached."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    _key: tuple[str, bytes] | None = field(default=None, repr=False)

    def sign(
        self,
        method: str,
        host: str,
        raw_path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        payload_hash: str,
        now: float | None = None,
    ) -> dict[str, str]:
        """``headers`` (lower-case names) plus Host, X-Amz-Date, X-Amz-Content-Sha256 and Authorization.

        Every header given is signed (callers give only what S3 should see signed, like botocore does);
        ``raw_path`` is the path exactly as sent (percent-encoded once: S3 paths are not normalised).
        """
        timestamp = time.strftime(_TIMESTAMP, time.gmtime(time.time() if now is None else now))
        date = timestamp[:8]
        signed = {**headers, "host": host, "x-amz-date": timestamp, "x-amz-content-sha256": payload_hash}
        pairs = sorted((name, " ".join(value.split())) for name, value in signed.items())
        canonical = canonical_text(method, raw_path, query, pairs, payload_hash)
        signature = sign_with_key(self._day_key(date), timestamp, date, self.region, SERVICE, canonical)
        scope = f"{self.access_key_id}/{date}/{self.region}/{SERVICE}/aws4_request"
        signed["authorization"] = (
            f"{ALGORITHM} Credential={scope}, SignedHeaders={';'.join(n for n, _ in pairs)}, Signature={signature}"
        )
        return signed

    def _day_key(self, date: str) -> bytes:
        if self._key is None or self._key[0] != date:
            self._key = (date, signing_key(self.secret_access_key, date, self.region, SERVICE))
        return self._key[1]
