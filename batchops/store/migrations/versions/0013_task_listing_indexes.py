"""task listing indexes: a job's failures by error code and by key page in constant time (partial: failed rows)"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_FAILED = sa.text("status = 2")


def upgrade() -> None:
    op.create_index(
        "ix_tasks_failed_code",
        "tasks",
        ["job_id", "error_code", "seq"],
        unique=False,
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )
    op.create_index(
        "ix_tasks_failed_key",
        "tasks",
        ["job_id", "key", "seq"],
        unique=False,
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_failed_key", table_name="tasks")
    op.drop_index("ix_tasks_failed_code", table_name="tasks")
