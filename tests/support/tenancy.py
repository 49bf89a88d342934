"""Two accounts from a config file, whose API keys are not the store's: only their roles carry the store's keys."""

from __future__ import annotations

from typing import Any

from tests.support.jobs import TAGGING
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import s3control_client

A, B = "111111111111", "222222222222"
KEYS = {A: ("AKID-ACCOUNT-A", "secret-of-account-a-7f3e1c"), B: ("AKID-ACCOUNT-B", "secret-of-account-b-9c1d2e")}
CONFIG = f"""
[[accounts]]
id = "{A}"
appid = "1250000001"
access_key_id = "{KEYS[A][0]}"
secret_access_key = "{KEYS[A][1]}"
[[accounts.roles]]
arn = "arn:aws:iam::{A}:role/batch"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"

[[accounts]]
id = "{B}"
access_key_id = "{KEYS[B][0]}"
secret_access_key = "{KEYS[B][1]}"
max_unfinished_jobs = 1
[[accounts.roles]]
arn = "arn:aws:iam::{B}:role/batch"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
"""


def client(server: Any, account: str) -> Any:
    return s3control_client(server.url, *KEYS[account])


def create(control: Any, account: str, location: dict[str, str], role: str = "batch", **extra: Any) -> str:
    return str(
        control.create_job(
            AccountId=account,
            Operation=TAGGING,
            Report=extra.pop("Report", {"Enabled": False}),
            Manifest={
                "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                "Location": location,
            },
            Priority=10,
            RoleArn=f"arn:aws:iam::{account}:role/{role}",
            ConfirmationRequired=extra.pop("ConfirmationRequired", True),
            **extra,
        )["JobId"]
    )
