"""The test object store's keys, and a plain boto3 S3 client for any store."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

ACCESS_KEY = "batchops-test-key"
SECRET_KEY = "batchops-test-secret"
REGION = "us-east-1"
#: The second store's own keys (cross-store copies and replicas, roles on another store).
OTHER_KEY, OTHER_SECRET = "other-store-key", "other-store-secret"


def s3_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    """A boto3 S3 client (standard retries) to arrange objects and check effects."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
