"""key locks: names (a replica's key) that tasks in any process hold one at a time, with an expiry a dead holder
cannot outlive"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_key_locks_job", "key_locks", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_key_locks_job", table_name="key_locks")
    op.drop_table("key_locks")
