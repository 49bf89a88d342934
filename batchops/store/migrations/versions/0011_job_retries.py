"""job retries: a retry job's link to the job whose failed tasks it runs again"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_retries",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_job_retries_parent", "job_retries", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_job_retries_parent", table_name="job_retries")
    op.drop_table("job_retries")
