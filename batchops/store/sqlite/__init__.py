"""The job store on SQLAlchemy Core over SQLite: plumbing in ``database``, one repository per aggregate."""

from batchops.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
