"""Accounts, APPIDs and roles in the settings: defaults, the config file, refusals, no secret in reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.errors import ConfigError, RoleNotDeclared
from batchops.s3.resolver import check_role
from batchops.settings import load_settings

CONFIG = """
[server]
s3_endpoint = "http://server-store:8333"
max_unfinished_jobs_per_account = 7

[[accounts]]
id = "111111111111"
appid = "1250000000"
access_key_id = "AK-A"
secret_access_key = "secret-A-xyz"
max_unfinished_jobs = 2
[[accounts.roles]]
arn = "arn:aws:iam::111111111111:role/batch"
[[accounts.roles]]
arn = "arn:aws:iam::111111111111:role/other-store"
endpoint = "http://other:9000"
region = "eu-west-1"
access_key_id = "AK-ROLE"
secret_access_key = "secret-role-xyz"

[[accounts]]
id = "222222222222"
access_key_id = "AK-B"
secret_access_key = "secret-B-xyz"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "batchops.toml"
    path.write_text(text)
    return path


def test_default_account_answers_to_its_id_and_any_role() -> None:
    settings = load_settings(
        environ={"BATCHOPS_ACCOUNT_ID": "123456789012", "AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"},
        flags={"s3_endpoint": "http://store:1"},
    )
    account = settings.accounts[0]
    assert settings.account_by_appid("123456789012") is account
    assert settings.account_by_key("ak") is account
    role = settings.role("123456789012", "arn:aws:iam::123456789012:role/anything")
    assert role is not None
    assert (role.endpoint, role.region, role.access_key_id, role.secret_access_key) == (
        "http://store:1",
        "us-east-1",
        "ak",
        "sk",
    )
    assert settings.max_unfinished_jobs(account) == 1000


def test_accounts_roles_and_limits_from_the_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_file=write(tmp_path, CONFIG))
    a, b = settings.accounts
    assert settings.account_by_appid("1250000000") is a
    assert settings.account_by_appid("222222222222") is b  # no appid: the account id
    assert settings.account_by_appid("111111111111") is None
    assert settings.account_by_key("AK-B") is b
    plain = settings.role(a.id, "arn:aws:iam::111111111111:role/batch")
    assert plain is not None
    assert (plain.endpoint, plain.access_key_id, plain.secret_access_key) == (
        "http://server-store:8333",
        "AK-A",
        "secret-A-xyz",
    )
    other = settings.role(a.id, "arn:aws:iam::111111111111:role/other-store")
    assert other is not None
    assert (other.endpoint, other.region, other.access_key_id) == ("http://other:9000", "eu-west-1", "AK-ROLE")
    assert settings.role(b.id, "arn:aws:iam::222222222222:role/batch") is None
    assert (settings.max_unfinished_jobs(a), settings.max_unfinished_jobs(b)) == (2, 7)
    assert "secret" not in repr(settings)


def test_undeclared_role_is_refused_naming_the_declared_ones(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_file=write(tmp_path, CONFIG))
    check_role(settings, "111111111111", "arn:aws:iam::111111111111:role/batch")
    with pytest.raises(RoleNotDeclared, match=r"role/nope is not declared.*role/batch, arn:aws:iam::111111111111"):
        check_role(settings, "111111111111", "arn:aws:iam::111111111111:role/nope")
    with pytest.raises(RoleNotDeclared, match="none declared"):
        check_role(settings, "222222222222", "arn:aws:iam::222222222222:role/batch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[accounts]]\nid = "111111111111"\n', "needs access_key_id and secret_access_key"),
        ('[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\nbogus = 1\n', "bogus"),
        (
            '[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\n'
            '[[accounts]]\nid = "222222222222"\naccess_key_id = "a"\nsecret_access_key = "t"\n',
            "share the access_key_id",
        ),
        (
            '[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\nappid = "9"\n'
            '[[accounts]]\nid = "222222222222"\naccess_key_id = "b"\nsecret_access_key = "t"\nappid = "9"\n',
            "share the appid",
        ),
        (
            '[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\n'
            '[[accounts.roles]]\narn = "batch"\n',
            "must be an IAM role ARN",
        ),
        (
            '[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\n'
            '[[accounts.roles]]\narn = "arn:aws:iam::111111111111:role/r"\naccess_key_id = "x"\n',
            "give both access_key_id and secret_access_key",
        ),
        ('[[accounts]]\nid = "111111111111"\naccess_key_id = "a"\nsecret_access_key = "s"\nappid = ""\n', "1 to 64"),
        ("[server]\nmax_unfinished_jobs_per_account = 0\n", "at least 1"),
    ],
)
def test_bad_accounts_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={}, config_file=write(tmp_path, text))


def test_unfinished_limit_from_the_environment() -> None:
    settings = load_settings(environ={"BATCHOPS_MAX_UNFINISHED_JOBS": "3"})
    assert settings.max_unfinished_jobs_per_account == 3


def test_tls_files_come_as_a_pair_and_must_exist(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("y")
    settings = load_settings(flags={"tls_cert": cert, "tls_key": key}, environ={})
    assert (settings.tls_cert, settings.tls_key) == (cert, key)
    with pytest.raises(ConfigError, match="give both tls_cert and tls_key"):
        load_settings(flags={"tls_cert": cert}, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"BATCHOPS_TLS_CERT": str(cert), "BATCHOPS_TLS_KEY": str(tmp_path / "none.pem")})


def test_deadlines_and_connection_bound_from_the_environment() -> None:
    environ = {"BATCHOPS_BODY_TIMEOUT_SECONDS": "2.5", "BATCHOPS_MAX_CONNECTIONS": "50"}
    settings = load_settings(environ=environ)
    assert (settings.body_timeout_seconds, settings.head_timeout_seconds, settings.max_connections) == (2.5, 10.0, 50)
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="head_timeout_seconds"):
            load_settings(environ={"BATCHOPS_HEAD_TIMEOUT_SECONDS": bad})
