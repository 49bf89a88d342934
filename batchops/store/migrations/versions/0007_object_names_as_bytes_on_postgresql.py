"""object names as bytes on PostgreSQL: a task's bucket, key and version id in BYTEA (no change on SQLite)

A key that is not UTF-8 is stored as its bytes (store/outcomes.py). SQLite keeps bytes in a TEXT column;
PostgreSQL text must be UTF-8, so there these columns hold the UTF-8 bytes (schema.ObjectName).
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = ("bucket", "key", "version_id")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE tasks ALTER COLUMN {column} TYPE bytea USING convert_to({column}, 'UTF8')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE tasks ALTER COLUMN {column} TYPE text USING convert_from({column}, 'UTF8')")
