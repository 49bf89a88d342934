"""Bring a database to the newest schema with Alembic (run at server start, before anything else)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from procrastinate.schema import SchemaManager
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection

_HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    return config


#: The advisory lock key under which PostgreSQL migrations run: servers starting together migrate one at a time.
MIGRATION_LOCK = 0x62617463  # "batc"


def upgrade(sync_url: str | URL) -> None:
    engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if connection.dialect.name == "postgresql":
                _apply_queue_schema(connection)
    finally:
        engine.dispose()


def _apply_queue_schema(connection: Connection) -> None:
    """procrastinate's tables (the queue of chunk jobs for ``batchops worker``), in the same PostgreSQL: it ships
    its schema as one SQL file, applied once (our Alembic keeps our own tables)."""
    if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
        connection.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))  # no parameters: % is itself
