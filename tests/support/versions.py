"""A versioned bucket's history of one key, as the replicate tests read it."""

from __future__ import annotations

from typing import Any


def versions_of(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    """A key's versions, oldest first."""
    listed = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return sorted(reversed([v for v in listed if v["Key"] == key]), key=lambda v: v["LastModified"])


def bodies_in_order(client: Any, bucket: str, key: str) -> list[bytes]:
    """The bodies of a key's versions, oldest first."""
    return [
        client.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in versions_of(client, bucket, key)
    ]
