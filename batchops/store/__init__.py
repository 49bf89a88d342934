"""Persistence: the job store's contract (``base.Store``), its SQL implementation on SQLite or PostgreSQL
(``sql``, the server's), an in-memory twin (``memory``, for tests), the schema and its migrations."""
