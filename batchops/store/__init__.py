"""Persistence: the job store (SQLite by default), its schema and migrations."""
