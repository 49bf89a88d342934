"""Bring a database to the newest schema with Alembic (run at server start, before anything else)."""

from __future__ import annotations

import re
from importlib.metadata import version
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


#: The procrastinate release whose schema a database holds is written as a comment on its jobs table. A queue made
#: before batchops wrote it was made by 3.10.0, the release batchops first used.
_SCHEMA_NOTE = "procrastinate schema "
_FIRST_USED = "3.10.0"
_MIGRATION = re.compile(r"^(\d+)\.(\d+)\.(\d+)_.*\.sql$")

Version = tuple[int, ...]


def _apply_queue_schema(connection: Connection) -> None:
    """procrastinate's tables (the queue of chunk and step jobs for ``batchops worker``), in the same PostgreSQL:
    its whole schema on a new database; on one made by an older procrastinate, the migrations it ships for each
    release since (our Alembic keeps our own tables)."""
    installed = version("procrastinate")
    if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
        _run_sql(connection, SchemaManager.get_schema())
    else:
        note = connection.execute(text("SELECT obj_description('procrastinate_jobs'::regclass)")).scalar()
        applied = str(note)[len(_SCHEMA_NOTE) :] if str(note or "").startswith(_SCHEMA_NOTE) else _FIRST_USED
        for path in queue_migrations(_parse(applied), _parse(installed)):
            _run_sql(connection, path.read_text())
    connection.exec_driver_sql(f"COMMENT ON TABLE procrastinate_jobs IS '{_SCHEMA_NOTE}{_parse_safe(installed)}'")


def queue_migrations(applied: Version, installed: Version) -> list[Path]:
    """procrastinate's migration files for the releases after ``applied`` up to ``installed``, in order (each
    named after the release it belongs to; a release's "pre" files sort before its "post" ones)."""
    found = []
    for path in sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql")):
        named = _MIGRATION.match(path.name)
        if named and applied < tuple(int(part) for part in named.groups()) <= installed:
            found.append(path)
    return found


def _parse(text_version: str) -> Version:
    return tuple(int(part) for part in re.findall(r"\d+", text_version)[:3])


def _parse_safe(text_version: str) -> str:
    return ".".join(str(part) for part in _parse(text_version))  # digits and dots only: safe in the COMMENT


def _run_sql(connection: Connection, sql: str) -> None:
    connection.exec_driver_sql(sql.replace("%", "%%"))  # no parameters: % is itself
