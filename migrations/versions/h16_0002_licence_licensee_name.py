"""licences.licensee_name: the licensee's username as it was when the licence was issued

Revision ID: h16_0002
Revises: h16_0001
Create Date: 2026-12-02 02:50:00

Existing licences are backfilled with the buyer's current username (the best record there is).
"""
from alembic import op
import sqlalchemy as sa

revision = "h16_0002"
down_revision = "h16_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("licences") as batch_op:
        batch_op.add_column(sa.Column("licensee_name", sa.String(length=30), nullable=True))
    op.execute("UPDATE licences SET licensee_name = (SELECT username FROM users WHERE users.id = licences.buyer_id)")
    op.execute("UPDATE licences SET licensee_name = '' WHERE licensee_name IS NULL")
    with op.batch_alter_table("licences") as batch_op:
        batch_op.alter_column("licensee_name", existing_type=sa.String(length=30), nullable=False)


def downgrade():
    with op.batch_alter_table("licences") as batch_op:
        batch_op.drop_column("licensee_name")
