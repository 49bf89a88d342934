"""The job store on SQLAlchemy Core over SQLite or PostgreSQL: plumbing in ``database`` (what differs in
``sqlite`` and ``postgres``), one repository per aggregate."""

from batchops.store.sql.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
