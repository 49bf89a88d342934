"""console indexes: a status filter and a priority sort stay fast with many jobs per account"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_account_status_created", ["account_id", "status", "creation_time"], unique=False
        )
        batch_op.create_index("ix_jobs_account_priority", ["account_id", "priority"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_account_priority")
        batch_op.drop_index("ix_jobs_account_status_created")
