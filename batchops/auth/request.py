"""The parts of an HTTP request a signature covers, independent of the web framework."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: access key id → (account id, secret key), or None when no account has that key.
SecretLookup = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class SignedRequest:
    method: str
    #: The path exactly as sent (still percent-encoded), without the query string.
    raw_path: str
    #: The raw query string (percent-encoded, without the ``?``).
    query: str
    #: Header (lowercase name, value) pairs in the order received; names may repeat.
    headers: Sequence[tuple[str, str]]
    body: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return ",".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]
