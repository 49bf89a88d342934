"""progress samples: a job's cumulative ended tasks every few seconds while it runs (the console's throughput chart)"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Counts are 64-bit on PostgreSQL, as the jobs' counters (migration 0008).
_COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "progress_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("succeeded", _COUNT, nullable=False),
        sa.Column("failed", _COUNT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_progress_samples_job", "progress_samples", ["job_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_progress_samples_job", table_name="progress_samples")
    op.drop_table("progress_samples")
