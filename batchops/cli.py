"""The ``batchops`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import click

from batchops.cli_jobs import job
from batchops.errors import BatchOpsError
from batchops.settings import Settings, load_settings


def _settings(flags: dict[str, Any], config: Path | None) -> Settings:
    try:
        return load_settings(flags=flags, config_file=config)
    except BatchOpsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
@click.version_option(package_name="batchops")
def main() -> None:
    """batchops: COS / S3 Batch Operations for any S3-compatible store."""


@main.command()
@click.option("--host", help="Address to listen on [default 127.0.0.1; env BATCHOPS_HOST].")
@click.option("--port", type=int, help="Port to listen on [default 8080; env BATCHOPS_PORT].")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Where the SQLite state lives [env BATCHOPS_DATA_DIR].",
)
@click.option("--s3-endpoint", help="URL of the S3-compatible store tasks act on [env BATCHOPS_S3_ENDPOINT].")
@click.option("--max-active-jobs", type=int, help="Jobs Active at once [default 1; env BATCHOPS_MAX_ACTIVE_JOBS].")
@click.option("--task-concurrency", type=int, help="Tasks in flight at once [default 64].")
@click.option(
    "--workers",
    type=int,
    help="Worker processes that run the tasks; 0: the server process runs them [default 0; env BATCHOPS_WORKERS]. "
    "Recommended: the number of CPU cores (at least 2) for jobs of many small tasks.",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key [env BATCHOPS_TLS_CERT].",
)
@click.option(
    "--tls-key", type=click.Path(path_type=Path, dir_okay=False), help="The PEM private key [env BATCHOPS_TLS_KEY]."
)
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
