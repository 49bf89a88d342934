"""manifest sources: a resumable listing cursor and the generated manifest's descriptor"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manifest_cursor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("generated_manifest", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("generated_manifest")
        batch_op.drop_column("manifest_cursor")
