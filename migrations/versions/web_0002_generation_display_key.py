"""generations.display_key: the web-sized display copy (SPEC §13 Display copy)

Revision ID: web_0002
Revises: perf_0001
Create Date: 2026-12-02 00:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "web_0002"
down_revision = "perf_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("generations") as batch_op:
        batch_op.add_column(sa.Column("display_key", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_column("display_key")
