"""The ``batchops`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from batchops.cli_jobs import job
from batchops.errors import BatchOpsError
from batchops.knobs import Kind, Knob, flag_name
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
    settings = _settings(flags, config)
    serve(settings, log_level)


def serve(settings: Settings, log_level: str = "info") -> None:
    import uvicorn

    from batchops.api.app import create_app
    from batchops.api.connections import bounded_protocol, connection_bounds
    from batchops.engine.engine import Engine
    from batchops.store.sqlstore import Store

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = asyncio.run(Store.open_sqlite(str(settings.database_path)))
    app = create_app(settings, store, Engine(settings, store))
    bounds = connection_bounds(settings)
    logging.getLogger(__name__).info(
        "serving at most %d connections at once (listen backlog %d)", bounds.limit, bounds.backlog
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        server_header=False,  # the COS dialect names its own Server (tencent-cos), as COS clients expect
        http=bounded_protocol(bounds.limit, settings.head_timeout_seconds),
        backlog=bounds.backlog,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    uvicorn.Server(config).run()


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path(".data"), show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
def demo(data_dir: Path, port: int) -> None:
    """Start a local SeaweedFS with demo data and serve batchops against it (``make run``)."""
    from batchops.demo import run_demo

    try:
        run_demo(data_dir, port)
    except BatchOpsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


main.add_command(job)
