"""batchops: COS / S3 Batch Operations for any S3-compatible object store."""

from __future__ import annotations

from typing import Any

from batchops.aws_hooks import boto3_hook

__version__ = "0.1.0"
__all__ = ["Client", "__version__", "boto3_hook"]


def __getattr__(name: str) -> Any:
    # ``batchops.Client`` is imported on first use, so the server does not load boto3 for it.
    if name == "Client":
        from batchops.client import Client

        return Client
    raise AttributeError(f"module 'batchops' has no attribute {name!r}")
