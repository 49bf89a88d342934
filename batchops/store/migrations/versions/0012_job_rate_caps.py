"""job rate caps: requests per second and tasks in flight a job may use, changeable while it runs (null: no cap)"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_requests_per_second", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("max_tasks_in_flight", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("max_tasks_in_flight")
        batch_op.drop_column("max_requests_per_second")
