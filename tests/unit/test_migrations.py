"""Alembic migrations build exactly the tables of batchops.store.schema; re-running them is harmless."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text

from batchops.domain.task import ObjectRef
from batchops.manifests.chunks import ChunkRow, decode
from batchops.store import migrate
from batchops.store.schema import metadata
from tests.support import postgres

VERSIONS = Path(migrate.__file__).resolve().parent / "migrations" / "versions"
NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.py$")
TABLES = {
    "jobs",
    "job_events",
    "tasks",
    "chunks",
    "console_sessions",
    "key_locks",
    "job_retries",
    "webhook_deliveries",
    "webhook_attempts",
    "progress_samples",
}


def ours(name: str | None, type_: str, _parent_names: object) -> bool:
    """Our tables and indexes, not procrastinate's (its schema, in the same PostgreSQL, is procrastinate's own)."""
    return not (name or "").startswith(("procrastinate_", "idx_procrastinate_"))


def schema_diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": ours})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def migrate_on(conn: Connection, revision: str, *, down: bool = False) -> None:
    """Alembic up (or down) to ``revision``, inside ``conn``'s transaction."""
    config = migrate.alembic_config()
    config.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(config, revision)


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


def test_migrations_build_exactly_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert schema_diff(url) != []  # an empty file differs: the comparison can see a missing schema

    migrate.upgrade(url)

    assert schema_diff(url) == []
    assert current_revision(url) == head()
    engine = create_engine(url)
    try:
        tables = {name for name in inspect(engine).get_table_names() if ours(name, "table", None)}
        assert tables == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrading_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO chunks (job_id, chunk_no, done) VALUES ('j', 0, 0)"))
    finally:
        engine.dispose()

    migrate.upgrade(url)

    assert schema_diff(url) == []
    assert current_revision(url) == head()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT job_id, chunk_no FROM chunks")).all() == [("j", 0)]
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate_on(conn, "base", down=True)
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    migrate.upgrade(url)
    assert schema_diff(url) == []


def test_migration_file_names() -> None:
    files = sorted(p.name for p in VERSIONS.glob("*.py"))
    assert files, f"no migrations in {VERSIONS}"
    bad = [name for name in files if not NAME.match(name)]
    assert bad == [], f"migration files must be named NNNN_snake_case.py: {bad}"
    prefixes = [name[:4] for name in files]
    assert len(set(prefixes)) == len(prefixes), f"two migrations share a number: {files}"


def test_migrations_form_one_chain() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(script.walk_revisions())  # head to base
    assert revisions[0].revision == head()
    assert revisions[-1].down_revision is None
    assert len(revisions) == len(list(VERSIONS.glob("*.py")))


def test_0004_turns_pending_task_rows_into_chunk_blobs_and_keeps_outcomes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate_on(conn, "0003")
            # An unfinished job as 0003 stored it: chunk 0 done, chunk 1 with one outcome and two pending tasks.
            conn.execute(text("INSERT INTO chunks (job_id, chunk_no, done) VALUES ('j', 0, 1), ('j', 1, 0)"))
            conn.execute(
                text(
                    "INSERT INTO tasks (job_id, seq, chunk_no, bucket, key, version_id, status, error_code, "
                    "http_status, message) VALUES "
                    "('j', 0, 0, 'bkt', 'a', NULL, 1, NULL, 200, NULL), "
                    "('j', 1, 0, 'bkt', 'b', NULL, 1, NULL, 200, NULL), "
                    "('j', 2, 1, '', 'raw,line', NULL, 2, 'InvalidManifestRow', 400, 'bad row'), "
                    "('j', 3, 1, 'bkt', 'c d', 'v1', 0, NULL, NULL, NULL), "
                    "('j', 4, 1, 'bkt', 'e', NULL, 0, NULL, NULL, NULL)"
                )
            )
        migrate.upgrade(url)
        with engine.connect() as conn:
            chunks = conn.execute(text("SELECT chunk_no, first_seq, task_count, done, data FROM chunks")).all()
            outcomes = conn.execute(text("SELECT seq, status FROM tasks ORDER BY seq")).all()
    finally:
        engine.dispose()

    assert [(c.chunk_no, c.first_seq, c.task_count, c.done) for c in chunks] == [(0, 0, 2, 1), (1, 2, 3, 0)]
    assert decode(chunks[1].data, 2, ()) == [
        ChunkRow(2, None, "bad row", "raw,line"),
        ChunkRow(3, ObjectRef("bkt", "c d", "v1")),
        ChunkRow(4, ObjectRef("bkt", "e")),
    ]
    assert [(o.seq, o.status) for o in outcomes] == [(0, 1), (1, 1), (2, 2)]  # pending rows are gone
    assert schema_diff(url) == []


def test_0016_keeps_every_outcome_in_a_table_without_rowid_and_its_downgrade_puts_the_rowid_back(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    rows = [
        ("j", 0, "bkt", "a", None, 1, None, 200, "ok"),
        ("j", 1, "bkt", b"\xff\x00raw", "v1", 2, "InvalidManifestRow", 400, "a name that is not UTF-8"),
        ("i", 5, "other", "k" * 1024, None, 1, None, 200, None),
    ]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate_on(conn, "0015")
            for row in rows:
                conn.exec_driver_sql("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        migrate.upgrade(url)
        with engine.connect() as conn:
            after = conn.exec_driver_sql("SELECT * FROM tasks ORDER BY job_id DESC, seq").all()
            table = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'tasks'").scalar_one()
            indexes = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE tbl_name = 'tasks'")}
        with engine.begin() as conn:
            migrate_on(conn, "0015", down=True)
            table_before = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'tasks'").scalar_one()
            kept = conn.exec_driver_sql("SELECT rowid, * FROM tasks ORDER BY job_id DESC, seq").all()
    finally:
        engine.dispose()

    assert [tuple(r) for r in after] == rows  # every value as it was, bytes included
    assert table.endswith("WITHOUT ROWID")
    assert indexes >= {"tasks", "ix_tasks_job_status", "ix_tasks_failed_code", "ix_tasks_failed_key"}
    assert not table_before.endswith("WITHOUT ROWID")
    assert [tuple(r)[1:] for r in kept] == rows


def test_migrations_build_exactly_the_schema_on_postgresql(postgres_database: str) -> None:
    """The session's PostgreSQL database was built by the same migrations (tests/support/postgres.py)."""
    assert schema_diff(postgres_database) == []
    assert current_revision(postgres_database) == head()
    migrate.upgrade(postgres_database)  # again: harmless
    engine = create_engine(postgres_database)
    try:
        tables = {name for name in inspect(engine).get_table_names() if ours(name, "table", None)}
        assert tables == TABLES | {"alembic_version"}
        key_types = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("tasks")}
        assert {key_types[c] for c in ("bucket", "key", "version_id")} == {"BYTEA"}  # keys that are not UTF-8
    finally:
        engine.dispose()


def _queue_note(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT obj_description('procrastinate_jobs'::regclass)")).scalar()
    finally:
        engine.dispose()


def test_a_new_postgresql_database_notes_the_procrastinate_release_of_its_queue(postgres_database: str) -> None:
    assert _queue_note(postgres_database) == f"procrastinate schema {version('procrastinate')}"


@pytest.mark.postgres
def test_the_queue_gets_the_migrations_of_each_newer_procrastinate_release_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database whose queue an older procrastinate made gets the migration files procrastinate ships for each
    release since (here a made-up next release's, written beside real ones), pre before post, once."""
    shipped = tmp_path / "migrations"
    shipped.mkdir()
    (shipped / "03.10.00_01_pre_already_there.sql").write_text("CREATE TABLE procrastinate_test_old (n int);")
    (shipped / "03.99.00_01_pre_add.sql").write_text("CREATE TABLE procrastinate_test_new (n int);")
    (shipped / "03.99.00_50_post_add.sql").write_text("INSERT INTO procrastinate_test_new VALUES (42);")
    (shipped / "04.00.00_01_pre_future.sql").write_text("CREATE TABLE procrastinate_test_future (n int);")
    with postgres.fresh_database() as url:  # its queue: the installed procrastinate's (3.10 or newer)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:  # as a database made by 3.10.0 before batchops noted the release
                conn.execute(text("COMMENT ON TABLE procrastinate_jobs IS NULL"))
            monkeypatch.setattr(migrate.SchemaManager, "get_migrations_path", staticmethod(lambda: str(shipped)))
            monkeypatch.setattr(migrate, "version", lambda _name: "3.99.0")
            migrate.upgrade(url)
            migrate.upgrade(url)  # again: nothing more
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                assert conn.execute(text("SELECT n FROM procrastinate_test_new")).scalars().all() == [42]
        finally:
            engine.dispose()
        assert "procrastinate_test_old" not in tables and "procrastinate_test_future" not in tables
        assert _queue_note(url) == "procrastinate schema 3.99.0"


def test_queue_migrations_are_those_after_the_applied_release_up_to_the_installed_one() -> None:
    names = [path.name for path in migrate.queue_migrations((3, 3, 0), (3, 4, 0))]
    assert names == [
        "03.04.00_01_pre_add_retry_failed_job_procedure.sql",
        "03.04.00_50_post_add_retry_failed_job_procedure.sql",
    ]
    assert migrate.queue_migrations((3, 10, 0), (3, 10, 0)) == []
