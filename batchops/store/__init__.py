"""Persistence: the job store's contract (``base.Store``), its SQLite implementation (``sqlite``, the server's),
an in-memory twin (``memory``, for tests), the schema and its migrations."""
