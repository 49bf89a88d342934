"""Each knob declared once on its Settings field: its environment variable is read, its bounds are refused naming
the knob and where the value came from, ``batchops server`` has its option, and the README's table lists it."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from batchops.cli import main, server
from batchops.errors import ConfigError
from batchops.knobs import Kind, Knob, flag_name, read
from batchops.settings import KNOBS, Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"
#: Fields that are config-file tables, not knobs.
TABLES = {"threshold", "accounts", "functions", "targets", "replicas", "store_rates"}
#: The options ``batchops server`` had before they were generated; each must stay.
SERVER_OPTIONS = {
    "--host",
    "--port",
    "--data-dir",
    "--database",
    "--s3-endpoint",
    "--max-active-jobs",
    "--small-job-slots",
    "--task-concurrency",
    "--workers",
    "--dispatch",
    "--dispatch-window",
    "--dispatch-per-job",
    "--tls-cert",
    "--tls-key",
    "--config",
    "--log-level",
    "--log-format",
    "--metrics",
    "--metrics-port",
}
DEFAULTS = Settings()


def with_env(kind: Kind) -> list[tuple[str, Knob]]:
    return [(name, knob) for name, knob in KNOBS.items() if knob.env is not None and knob.kind is kind]


def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    return cert, key


def in_bounds_other_than_default(name: str, knob: Knob) -> int:
    low = knob.minimum if knob.minimum is not None else 1
    high = knob.maximum if knob.maximum is not None else low + 2
    return next(n for n in (low, low + 1, high) if n != getattr(DEFAULTS, name))


def test_every_field_is_a_knob_or_a_table() -> None:
    assert {f.name for f in fields(Settings)} - set(KNOBS) == TABLES
    assert all(knob.help and not knob.help.endswith(".") for knob in KNOBS.values())


@pytest.mark.parametrize("name", [name for name in KNOBS if getattr(DEFAULTS, name) is not None])
def test_each_default_is_within_its_own_bounds(name: str) -> None:
    default = getattr(DEFAULTS, name)
    assert read(name, KNOBS[name], default, "the default") == default


@pytest.mark.parametrize(("name", "knob"), with_env(Kind.WHOLE))
def test_each_whole_number_knob_is_read_from_its_environment_variable(name: str, knob: Knob) -> None:
    assert knob.env is not None
    value = in_bounds_other_than_default(name, knob)
    assert getattr(load_settings(environ={knob.env: str(value)}), name) == value


@pytest.mark.parametrize(("name", "knob"), with_env(Kind.SECONDS))
def test_each_seconds_knob_is_read_from_its_environment_variable(name: str, knob: Knob) -> None:
    assert knob.env is not None
    assert getattr(load_settings(environ={knob.env: "2.5"}), name) == 2.5


@pytest.mark.parametrize(("name", "knob"), with_env(Kind.TEXT) + with_env(Kind.CHOICE))
def test_each_text_or_choice_knob_is_read_from_its_environment_variable(name: str, knob: Knob) -> None:
    assert knob.env is not None
    value = next(c for c in knob.choices if c != getattr(DEFAULTS, name)) if knob.choices else "from-the-env"
    assert getattr(load_settings(environ={knob.env: value}), name) == value


@pytest.mark.parametrize(("name", "knob"), with_env(Kind.DIRECTORY) + with_env(Kind.FILE))
def test_each_path_knob_is_read_from_its_environment_variable(name: str, knob: Knob, tmp_path: Path) -> None:
    cert, key = tls_files(tmp_path)
    environ = {"BATCHOPS_TLS_CERT": str(cert), "BATCHOPS_TLS_KEY": str(key)}
    chosen = tmp_path / "chosen.pem"
    chosen.write_text("pem")
    assert knob.env is not None
    assert getattr(load_settings(environ={**environ, knob.env: str(chosen)}), name) == chosen


def refusals(name: str, knob: Knob) -> list[str]:
    """Values the knob must refuse."""
    if knob.kind is Kind.WHOLE:
        below = [] if knob.minimum is None else [str(knob.minimum - 1)]
        return [*below, *([] if knob.maximum is None else [str(knob.maximum + 1)]), "many"]
    if knob.kind is Kind.SECONDS:
        return ["0", "-1", "inf", "soon"]
    if knob.kind is Kind.CHOICE:
        return ["neither"]
    return []


ENV_REFUSALS = [
    (name, knob, value) for name, knob in KNOBS.items() if knob.env is not None for value in refusals(name, knob)
]


@pytest.mark.parametrize(("name", "knob", "value"), ENV_REFUSALS)
def test_a_refusal_names_the_knob_and_its_environment_variable(name: str, knob: Knob, value: str) -> None:
    assert knob.env is not None
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={knob.env: value})
    assert f"setting {name} must be " in str(refused.value)
    assert f"not {value!r}" in str(refused.value) or f"not {value}" in str(refused.value)
    assert str(refused.value).endswith(f"(from {knob.env} in the environment)")


FILE_REFUSALS = [(name, value) for name, knob in KNOBS.items() for value in refusals(name, knob)]


@pytest.mark.parametrize(("name", "value"), FILE_REFUSALS)
def test_a_refusal_from_the_config_file_names_the_knob_and_the_file(name: str, value: str, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[server]\n{name} = {value if value.lstrip('-').isdigit() else repr(value)}\n")
    with pytest.raises(
        ConfigError, match=f"setting {name} must be .*\\(from \\[server\\] in {re.escape(str(config))}\\)$"
    ):
        load_settings(environ={}, config_file=config)


def test_a_flag_beats_the_environment_and_its_refusal_names_the_flag() -> None:
    environ = {"BATCHOPS_WORKERS": "70"}
    assert load_settings(flags={"workers": 2}, environ=environ).workers == 2
    with pytest.raises(ConfigError, match=r"workers must be from 0 \(tasks run in the server process\) to 64, not 65"):
        load_settings(flags={"workers": 65}, environ={})
    with pytest.raises(ConfigError, match=r"\(from --workers\)$"):
        load_settings(flags={"workers": 65}, environ={})


def test_a_flag_that_is_not_a_knob_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting flag"):
        load_settings(flags={"wokers": 2}, environ={})


def server_options() -> dict[str, click.Option]:
    return {opt: param for param in server.params if isinstance(param, click.Option) for opt in param.opts}


def test_server_has_every_option_it_had_and_one_per_flagged_knob() -> None:
    flagged = {flag_name(name) for name, knob in KNOBS.items() if knob.flag}
    assert set(server_options()) == SERVER_OPTIONS
    assert flagged == SERVER_OPTIONS - {"--config", "--log-level"}


@pytest.mark.parametrize(("name", "knob"), [(name, knob) for name, knob in KNOBS.items() if knob.flag])
def test_each_option_says_its_environment_variable_and_default(name: str, knob: Knob) -> None:
    option = server_options()[flag_name(name)]
    assert option.help is not None and option.help.startswith(knob.help)
    assert f"env {knob.env}" in option.help
    default = getattr(DEFAULTS, name)
    assert default is None or f"default {default}" in option.help


def test_the_options_feed_the_loader_ahead_of_the_environment(tmp_path: Path) -> None:
    cert, key = tls_files(tmp_path)
    args = ["--workers", "3", "--port", "9000", "--data-dir", str(tmp_path), "--tls-cert", str(cert)]
    context = server.make_context("server", [*args, "--tls-key", str(key)])
    flags: dict[str, Any] = {k: v for k, v in context.params.items() if k not in ("config", "log_level")}
    settings = load_settings(flags=flags, environ={"BATCHOPS_WORKERS": "2", "BATCHOPS_HOST": "0.0.0.0"})
    assert (settings.workers, settings.port, settings.data_dir, settings.host) == (3, 9000, tmp_path, "0.0.0.0")
    assert (settings.tls_cert, settings.tls_key) == (cert, key)


def test_a_refused_option_is_a_usage_error_naming_the_option() -> None:
    result = CliRunner().invoke(main, ["server", "--max-active-jobs", "0"])
    assert result.exit_code == 2
    assert "setting max_active_jobs must be at least 1, not 0 (from --max-active-jobs)" in result.output


def readme_settings_rows() -> list[list[str]]:
    text = README.read_text()
    table = text[text.index("| setting | flag | environment | default |") :].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


@pytest.mark.parametrize(("name", "knob"), [(name, knob) for name, knob in KNOBS.items() if knob.env is not None])
def test_the_readme_table_lists_each_environment_variable_with_its_flag(name: str, knob: Knob) -> None:
    rows = [row for row in readme_settings_rows() if f"`{knob.env}`" in row[2]]
    assert len(rows) == 1, f"{knob.env} ({name}) must appear in exactly one row of the README's settings table"
    if knob.flag:
        assert f"`{flag_name(name)}`" in rows[0][1]


def test_the_readme_table_names_no_flag_the_server_lacks() -> None:
    named = {flag for row in readme_settings_rows() for flag in re.findall(r"`(--[a-z0-9-]+)`", row[1])}
    assert named <= set(server_options())
