"""task counts and positions as BIGINT on PostgreSQL (no change on SQLite, whose INTEGER is 64-bit)

A job may have billions of tasks (AWS allows 20 billion): its counters, its manifest position and a task's seq
must hold more than PostgreSQL's 32-bit integer.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = {
    "jobs": ("total_tasks", "succeeded", "failed", "manifest_lines_read"),
    "tasks": ("seq",),
    "chunks": ("chunk_no", "first_seq", "task_count"),
}


def _alter(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in _COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {column} TYPE {kind}" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _alter("bigint")


def downgrade() -> None:
    _alter("integer")
