"""chunk blobs: a chunk's manifest rows in one blob; the tasks table keeps outcomes only

Existing chunks get their seq range; an unfinished chunk gets a blob made from its pending task rows,
which are then deleted (rows with an outcome stay: they are the outcomes). Downgrading keeps outcomes
but cannot bring back the pending rows of unfinished jobs: finish or cancel them first.
"""

import zlib
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("task_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=False, server_default=_empty_blob()))
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE chunks SET "
            "first_seq = coalesce((SELECT min(seq) FROM tasks t WHERE t.job_id = chunks.job_id "
            "AND t.chunk_no = chunks.chunk_no), 0), "
            "task_count = (SELECT count(*) FROM tasks t WHERE t.job_id = chunks.job_id "
            "AND t.chunk_no = chunks.chunk_no)"
        )
    )
    unfinished = conn.execute(sa.text("SELECT job_id, chunk_no FROM chunks WHERE NOT done")).all()
    for job_id, chunk_no in unfinished:
        rows = conn.execute(
            sa.text(
                "SELECT bucket, key, version_id, status, message FROM tasks "
                "WHERE job_id = :job AND chunk_no = :chunk ORDER BY seq"
            ),
            {"job": job_id, "chunk": chunk_no},
        ).all()
        blob = _encode_rows([_row_line(*row) for row in rows])
        conn.execute(
            sa.text("UPDATE chunks SET data = :data WHERE job_id = :job AND chunk_no = :chunk"),
            {"data": blob, "job": job_id, "chunk": chunk_no},
        )
    conn.execute(sa.text("DELETE FROM tasks WHERE status = 0"))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("chunk_no")


def _empty_blob() -> sa.TextClause:
    # SQLite's empty blob literal; on PostgreSQL x'' is an empty *bit string*, which a BYTEA column refuses
    # (changed after the fact so this revision runs on PostgreSQL: SQLite's DDL is the same as it was).
    return sa.text("x''") if op.get_bind().dialect.name == "sqlite" else sa.text("''")


# The chunk blob format as this revision wrote it (an ``n`` chunk of batchops.manifests.chunks), frozen here:
# a migration must not change when the live code does.


def _encode_rows(lines: list[str]) -> bytes:
    return zlib.compress(b"n\n" + "\n".join(lines).encode("utf-8", "surrogateescape"), 1)


def _row_line(bucket: str, key: str, version_id: str | None, status: int, message: str | None) -> str:
    if not bucket:  # a malformed manifest row: already failed (its outcome row stays)
        return f"!{_quote(message or '')},{_quote(key)}"
    line = f"{bucket},{_quote(key)}"
    return line if version_id is None else f"{line},{_quote(version_id)}"


def _quote(text: str) -> str:
    return quote(text, safe="/", errors="surrogateescape")


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chunk_no", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.drop_column("data")
        batch_op.drop_column("task_count")
        batch_op.drop_column("first_seq")
