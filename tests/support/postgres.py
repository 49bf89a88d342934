"""A fresh PostgreSQL database for a test session: created on the local server (or the one
``BATCHOPS_TEST_POSTGRES_URL`` names), migrated once, emptied between tests, dropped at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest
from psycopg import sql

from batchops.store import migrate
from batchops.store.schema import metadata
from batchops.store.sql.urls import parse

#: The server the tests use unless BATCHOPS_TEST_POSTGRES_URL names another (its database is only the one
#: connected to while creating and dropping the test's own).
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

HOW_TO_START = (
    "the PostgreSQL tests need a server: start the local one (`service postgresql start` or "
    "`pg_ctlcluster 15 main start`; it must accept user postgres on 127.0.0.1:5432 without a password), "
    "or set BATCHOPS_TEST_POSTGRES_URL=postgresql://user:password@host:port/database to use another"
)


def server_url() -> str:
    return os.environ.get("BATCHOPS_TEST_POSTGRES_URL", DEFAULT_URL)


def _conninfo(url: str) -> str:
    return parse(url).sync_url.set(drivername="postgresql").render_as_string(hide_password=False)


class NoPostgres(Exception):
    """No PostgreSQL server answers at the URL given."""


@contextmanager
def new_database(server: str, prefix: str) -> Iterator[str]:
    """The URL of a new, migrated database named ``<prefix>_<random>`` on ``server``, dropped on exit; NoPostgres
    if the server does not answer. Commits do not wait for the disk: a test's or a benchmark's database lost in a
    crash is no loss (≈3x faster here)."""
    admin = _conninfo(server)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        raise NoPostgres(f"cannot reach {parse(server).shown}: {exc}") from None
    url = parse(server).sync_url.set(database=name)
    try:
        migrate.upgrade(url)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated test database, dropped on exit; fails (does not skip) if no server answers."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(new_database(server_url(), "batchops_test"))
        except NoPostgres as exc:
            pytest.fail(f"{HOW_TO_START}\n({exc})", pytrace=False)
        yield url


def empty(url: str) -> None:
    """Every table emptied and job_events' ids restarted, as a fresh database has them (DELETE: on tables this
    small, ≈10x faster than TRUNCATE, which recreates their files)."""
    with psycopg.connect(_conninfo(url), autocommit=True) as conn, conn.transaction():
        for table in reversed(metadata.sorted_tables):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
        conn.execute("ALTER SEQUENCE job_events_id_seq RESTART")
