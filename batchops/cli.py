"""The ``batchops`` command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from batchops.cli_db import db
from batchops.cli_jobs import job
from batchops.errors import BatchOpsError
from batchops.knobs import Kind, Knob, flag_name
from batchops.logs import configure
from batchops.metrics_dir import METRICS_PARENT, use_multiprocess_dir
from batchops.settings import KNOBS, Settings, load_settings


def _settings(flags: dict[str, Any], config: Path | None) -> Settings:
    try:
        return load_settings(flags=flags, config_file=config)
    except BatchOpsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
@click.version_option(package_name="batchops")
def main() -> None:
    """batchops: COS / S3 Batch Operations for any S3-compatible store."""


def _option_type(knob: Knob) -> click.ParamType[Any, Any] | None:
    """The click type of a knob's option; bounds are checked by the loader, so its refusals read the same."""
    types: dict[Kind, click.ParamType[Any, Any]] = {
        Kind.WHOLE: click.INT,
        Kind.SECONDS: click.FLOAT,
        Kind.CHOICE: click.Choice(knob.choices),
        Kind.DIRECTORY: click.Path(path_type=Path),
        Kind.FILE: click.Path(path_type=Path, dir_okay=False),
    }
    return types.get(knob.kind)


def _option_help(name: str, knob: Knob) -> str:
    default = getattr(Settings(), name)
    where = [] if default is None else [f"default {default}"]
    where += [] if knob.env is None else [f"env {knob.env}"]
    return f"{knob.help} [{'; '.join(where)}]." if where else f"{knob.help}."


def knob_options(command: Callable[..., None]) -> Callable[..., None]:
    """``batchops server``'s setting options: one per knob declared with ``flag=True``, in declaration order."""
    for name, knob in reversed([(name, knob) for name, knob in KNOBS.items() if knob.flag]):
        command = click.option(flag_name(name), type=_option_type(knob), help=_option_help(name, knob))(command)
    return command


@main.command()
@knob_options
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML config file.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def server(config: Path | None, log_level: str, **flags: Any) -> None:
    """Serve the S3 Control job API and run the jobs."""
    # Imported here, not at the top: the server's stack (uvicorn, Starlette, SQLAlchemy, aiobotocore) takes
    # ~0.7 s to import, which every `batchops job …` command would otherwise pay.
    settings = _settings(flags, config)
    if settings.workers and settings.metrics == "on":
        # the worker processes' values reach /metrics through files: set before prometheus-client is imported
        use_multiprocess_dir(METRICS_PARENT)
    from batchops.server import serve

    try:
        serve(settings, log_level)
    except BatchOpsError as exc:  # the database cannot be opened: its URL, without its password, and why
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@knob_options
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Chunks run at once.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML config file.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def worker(concurrency: int, config: Path | None, log_level: str, **flags: Any) -> None:
    """Run the tasks of the jobs a PostgreSQL-backed server dispatches (on any machine that reaches the database
    and the object stores)."""
    # The engine's stack (procrastinate, SQLAlchemy, aiobotocore), imported here for the same reason as in `server`.
    from batchops.engine.queueworker import serve_chunks
    from batchops.metrics import serve_own

    settings = _settings(flags, config)
    configure(log_level, settings.log_format)
    try:
        if settings.metrics == "on" and settings.metrics_port:
            serve_own(settings.host, settings.metrics_port)
        asyncio.run(serve_chunks(settings, concurrency))
    except BatchOpsError as exc:  # SQLite, or the database cannot be opened: one line, no traceback
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path(".data"), show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def demo(data_dir: Path, port: int, log_format: str) -> None:
    """Start a local SeaweedFS with demo data and serve batchops against it (``make run``)."""
    from batchops.demo import run_demo  # imports the server: here, for the same reason as in `server`

    try:
        run_demo(data_dir, port, log_format)
    except BatchOpsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


main.add_command(job)
main.add_command(db)
