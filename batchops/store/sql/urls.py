"""Where the job store lives, as a database URL: a SQLite file (a path, or ``sqlite:///path``) or a PostgreSQL
database (``postgresql://user@host:5432/name``). Each is opened with its async driver (aiosqlite, psycopg 3)
and migrated with its sync one; ``shown`` names it in messages without its password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from batchops.errors import DatabaseUnavailable

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: The schemes a PostgreSQL URL may be given with (libpq's two spellings, and SQLAlchemy's with our driver).
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}


@dataclass(frozen=True)
class DatabaseUrl:
    dialect: str  # SQLITE or POSTGRESQL
    url: URL  # with the sync driver (Alembic, the event loop's point reads)

    @property
    def async_url(self) -> URL:
        return self.url.set(drivername="sqlite+aiosqlite" if self.dialect == SQLITE else "postgresql+psycopg")

    @property
    def sync_url(self) -> URL:
        return self.url

    @property
    def shown(self) -> str:
        """The URL for messages and logs: its password hidden."""
        return self.url.render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://")

    @property
    def sqlite_path(self) -> str:
        return str(self.url.database or "")


def sqlite_url(path: Path | str) -> DatabaseUrl:
    return DatabaseUrl(SQLITE, URL.create("sqlite", database=str(path)))


def parse(value: str | Path) -> DatabaseUrl:
    """A database URL (or a bare SQLite path); DatabaseUnavailable if batchops cannot use it."""
    text = str(value)
    if "://" not in text:
        return sqlite_url(text)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUnavailable(f"{_no_password(text)} is not a database URL: {_EXPECTED}") from None
    if url.drivername == SQLITE:
        if not url.database:
            raise DatabaseUnavailable(f"{_no_password(text)} names no SQLite file: {_EXPECTED}")
        return DatabaseUrl(SQLITE, url)
    if url.drivername in _POSTGRES_SCHEMES:
        if not url.database:
            raise DatabaseUnavailable(f"{_no_password(text)} names no database: {_EXPECTED}")
        return DatabaseUrl(POSTGRESQL, url.set(drivername="postgresql+psycopg"))
    raise DatabaseUnavailable(f"{_no_password(text)}: the database must be SQLite or PostgreSQL: {_EXPECTED}")


_EXPECTED = "expected postgresql://user[:password]@host[:port]/database, sqlite:///path or a file path"


def _no_password(text: str) -> str:
    """A URL that did not parse, shown without what sits between ``user:`` and ``@``."""
    scheme, sep, rest = text.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return text
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
