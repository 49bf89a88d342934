"""Failure-threshold arithmetic and the settings precedence (flag > env > file > default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.domain.job import FailureThreshold
from batchops.errors import ConfigError
from batchops.settings import load_settings


@pytest.mark.parametrize(
    ("succeeded", "failed", "exceeded"),
    [
        (0, 1000, False),  # 1,000 run: not yet "more than 1,000"
        (0, 1001, True),
        (500, 501, True),  # 1,001 run, 50.05 % failed
        (501, 500, False),
        (1000, 1000, False),  # exactly 50 % is not above 50 %
        (999, 1001, True),
    ],
)
def test_seed_rule(succeeded: int, failed: int, exceeded: bool) -> None:
    assert FailureThreshold().exceeded(succeeded, failed) is exceeded


def test_custom_threshold() -> None:
    assert FailureThreshold(min_tasks=10, percent=20).exceeded(8, 3)
    assert not FailureThreshold(min_tasks=10, percent=20).exceeded(9, 2)


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[server]\nport = 7000\nmax_active_jobs = 3\ns3_endpoint = "http://file"\n')
    env = {"BATCHOPS_PORT": "7100", "BATCHOPS_S3_ENDPOINT": "http://env"}
    settings = load_settings(flags={"port": 7200, "max_active_jobs": None}, environ=env, config_file=config)
    assert settings.port == 7200
    assert settings.s3_endpoint == "http://env"
    assert settings.max_active_jobs == 3
    assert settings.task_concurrency == 64


def test_default_account_from_environment() -> None:
    env = {
        "BATCHOPS_ACCOUNT_ID": "111122223333",
        "AWS_ACCESS_KEY_ID": "ak",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
    }
    settings = load_settings(environ=env)
    assert [(a.id, a.access_key_id) for a in settings.accounts] == [("111122223333", "ak")]
    assert "s3cr3t-value" not in repr(settings)


def test_accounts_from_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[accounts]]\nid = "000011112222"\naccess_key_id = "a"\nsecret_access_key = "s"\n'
        "[threshold]\nmin_tasks = 5\npercent = 10\n"
    )
    settings = load_settings(environ={}, config_file=config)
    assert settings.account("000011112222") is not None
    assert settings.threshold == FailureThreshold(5, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 0\n", "port must be at least 1"),
        ("[server]\nbogus = 1\n", "unknown setting"),
        ("[server]\nport = 'x'\n", "whole number"),
        ('[[accounts]]\nid = "12"\n', "12 digits"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={}, config_file=config)
