"""The ``workers`` setting: 0 (tasks in the server process) by default, from a flag, the environment or the
file; out-of-range values refused; ``task_concurrency`` is shared among the workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.errors import ConfigError
from batchops.settings import load_settings


def test_default_is_zero_workers_tasks_in_the_server_process() -> None:
    settings = load_settings(environ={})
    assert settings.workers == 0
    assert settings.worker_task_concurrency == settings.task_concurrency


def test_workers_from_flag_env_or_file(tmp_path: Path) -> None:
    config = tmp_path / "b.toml"
    config.write_text("[server]\nworkers = 3\n")
    assert load_settings(environ={}, config_file=config).workers == 3
    assert load_settings(environ={"BATCHOPS_WORKERS": "2"}, config_file=config).workers == 2
    assert load_settings(flags={"workers": 4}, environ={"BATCHOPS_WORKERS": "2"}).workers == 4
    assert load_settings(flags={"workers": 0}, environ={"BATCHOPS_WORKERS": "2"}).workers == 0


@pytest.mark.parametrize(("workers", "concurrency", "each"), [(2, 64, 32), (3, 64, 22), (4, 2, 1), (1, 5, 5)])
def test_task_concurrency_is_shared_among_workers(workers: int, concurrency: int, each: int) -> None:
    settings = load_settings(flags={"workers": workers, "task_concurrency": concurrency}, environ={})
    assert settings.worker_task_concurrency == each


@pytest.mark.parametrize("value", ["-1", "65", "many"])
def test_bad_workers_value_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="workers"):
        load_settings(environ={"BATCHOPS_WORKERS": value})
