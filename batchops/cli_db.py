"""``batchops db``: the job store's database itself (``upgrade``: apply the migrations)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from batchops.errors import BatchOpsError
from batchops.settings import load_settings


@click.group()
def db() -> None:
    """The job store's database (SQLite or PostgreSQL)."""


@db.command()
@click.option("--database", help="Database URL (postgresql://… or sqlite:///…) [default: SQLite under --data-dir].")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the default SQLite file lives.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML config file.")
def upgrade(database: str | None, data_dir: Path | None, config: Path | None) -> None:
    """Apply the migrations (the server also applies them when it starts)."""
    # Imported here, not at the top: SQLAlchemy and Alembic take a while to import, which every other
    # `batchops` command would otherwise pay (as `server` imports its stack in the command).
    from batchops.store.sql.database import upgrade as upgrade_database
    from batchops.store.sql.urls import parse

    flags: dict[str, Any] = {"database": database, "data_dir": data_dir}
    try:
        settings = load_settings(flags=flags, config_file=config)
        url = parse(settings.database_url)
        if url.dialect == "sqlite":
            Path(url.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        upgrade_database(url)
    except BatchOpsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{url.shown}: the schema is up to date")
