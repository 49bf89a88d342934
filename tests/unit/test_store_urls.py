"""Where the job store lives: database URLs batchops takes (and says why not), and what it shows of them; a
full disk on PostgreSQL is its SQLSTATE disk_full."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from batchops.cli import main
from batchops.errors import DatabaseUnavailable
from batchops.settings import load_settings
from batchops.store.sql import SqlStore, postgres
from batchops.store.sql.urls import POSTGRESQL, SQLITE, parse
from tests.support.postgres import server_url


def test_a_path_or_a_sqlite_url_is_a_sqlite_file(tmp_path: Path) -> None:
    assert (parse(tmp_path / "db.sqlite3").dialect, parse(tmp_path / "db.sqlite3").sqlite_path) == (
        SQLITE,
        str(tmp_path / "db.sqlite3"),
    )
    assert parse(f"sqlite:///{tmp_path}/db.sqlite3").sqlite_path == f"{tmp_path}/db.sqlite3"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgresql_urls_use_psycopg_and_never_show_the_password(scheme: str) -> None:
    url = parse(f"{scheme}://batchops:s3cret@db.example.com:5433/jobs")
    assert url.dialect == POSTGRESQL
    assert url.async_url.drivername == "postgresql+psycopg"
    assert url.shown == "postgresql://batchops:***@db.example.com:5433/jobs"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("mysql://u:s3cret@h/db", "must be SQLite or PostgreSQL"),
        ("postgresql://u:s3cret@h", "names no database"),
        ("sqlite://", "names no SQLite file"),
        ("postgresql://u:s3cret@h:notaport/db", "not a database URL"),
    ],
)
def test_a_url_batchops_cannot_use_is_refused_without_its_password(given: str, says: str) -> None:
    with pytest.raises(DatabaseUnavailable, match=says) as refused:
        parse(given)
    assert "s3cret" not in str(refused.value)


async def test_an_unreachable_database_is_named_without_its_password() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"cannot reach the database postgresql://u:\*\*\*@127.0.0.1:1/x"):
        await SqlStore.open("postgresql://u:s3cret@127.0.0.1:1/x")


def test_the_database_setting_defaults_to_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    assert load_settings(flags={"data_dir": tmp_path}, environ={}).database_url == str(tmp_path / "batchops.sqlite3")
    environ = {"BATCHOPS_DATABASE_URL": "postgresql://h/db"}
    assert load_settings(flags={"data_dir": tmp_path}, environ=environ).database_url == "postgresql://h/db"
    flags = {"data_dir": tmp_path, "database": "postgresql://other/db"}
    assert load_settings(flags=flags, environ=environ).database_url == "postgresql://other/db"


def test_db_upgrade_migrates_sqlite_and_postgresql_and_refuses_in_one_line(
    tmp_path: Path, postgres_database: str
) -> None:
    runner = CliRunner()
    on_sqlite = runner.invoke(main, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert on_sqlite.exit_code == 0 and (tmp_path / "batchops.sqlite3").exists(), on_sqlite.output
    on_postgres = runner.invoke(main, ["db", "upgrade", "--database", postgres_database])
    assert on_postgres.exit_code == 0 and "up to date" in on_postgres.output, on_postgres.output
    refused = runner.invoke(main, ["db", "upgrade", "--database", "postgresql://u:s3cret@127.0.0.1:1/x"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output and "s3cret" not in refused.output
    assert refused.output.startswith("error: cannot reach the database postgresql://u:***@127.0.0.1:1/x")
    assert server_url()  # the session's server is the one BATCHOPS_TEST_POSTGRES_URL (or the default) names


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("could not extend file: No space left on device")
        self.sqlstate = sqlstate


def test_disk_full_on_postgresql_is_its_sqlstate_only() -> None:
    assert postgres.is_disk_full(OperationalError("INSERT", {}, _PgError("53100")))
    assert not postgres.is_disk_full(OperationalError("INSERT", {}, _PgError("53200")))  # out of memory
