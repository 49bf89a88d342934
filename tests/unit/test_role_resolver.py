"""The RoleArn → object-store resolver the engine, CreateJob's report check and the console share."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.errors import ManifestError
from batchops.s3.client import StoreCredentials
from batchops.s3.resolver import credentials_for, resolve
from batchops.settings import Settings, load_settings

A, B = "111111111111", "222222222222"
CONFIG = f"""
[server]
s3_endpoint = "http://server-store:8333"
s3_region = "us-west-2"

[[accounts]]
id = "{A}"
access_key_id = "API-KEY-A"
secret_access_key = "api-secret-a"
[[accounts.roles]]
arn = "arn:aws:iam::{A}:role/plain"
[[accounts.roles]]
arn = "arn:aws:iam::{A}:role/elsewhere"
endpoint = "http://other-store:9000"
region = "eu-west-1"
access_key_id = "STORE-KEY"
secret_access_key = "store-secret"

[[accounts]]
id = "{B}"
access_key_id = "API-KEY-B"
secret_access_key = "api-secret-b"
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "batchops.toml"
    path.write_text(CONFIG)
    return load_settings(environ={}, config_file=path)


def test_a_role_on_another_store_acts_there_with_its_own_keys(settings: Settings) -> None:
    creds = credentials_for(settings, A, f"arn:aws:iam::{A}:role/elsewhere")
    assert creds == StoreCredentials("http://other-store:9000", "eu-west-1", "STORE-KEY", "store-secret")
    assert "store-secret" not in repr(creds)


def test_a_role_without_a_store_acts_on_the_servers_store_with_the_accounts_keys(settings: Settings) -> None:
    creds = resolve(settings, A, f"arn:aws:iam::{A}:role/plain")
    assert creds == StoreCredentials("http://server-store:8333", "us-west-2", "API-KEY-A", "api-secret-a")


def test_the_default_account_acts_with_any_role_on_the_servers_store() -> None:
    settings = load_settings(
        environ={"BATCHOPS_ACCOUNT_ID": A, "AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"},
        flags={"s3_endpoint": "http://store:1"},
    )
    creds = resolve(settings, A, f"arn:aws:iam::{A}:role/anything")
    assert creds == StoreCredentials("http://store:1", "us-east-1", "ak", "sk")


def test_a_role_the_account_did_not_declare_resolves_to_nothing(settings: Settings) -> None:
    assert resolve(settings, A, f"arn:aws:iam::{A}:role/undeclared") is None
    assert resolve(settings, B, f"arn:aws:iam::{A}:role/elsewhere") is None  # another account's role
    assert resolve(settings, "333333333333", f"arn:aws:iam::{A}:role/plain") is None  # no such account


def test_a_jobs_role_gone_from_the_config_is_a_role_not_declared_failure(settings: Settings) -> None:
    with pytest.raises(ManifestError, match=rf"role/gone is no longer declared for account {B}") as caught:
        credentials_for(settings, B, f"arn:aws:iam::{B}:role/gone")
    assert caught.value.code == "RoleNotDeclared"
