"""service_times: measured service times the workers report (queue ETA, SPEC §13)

Revision ID: serving_0001
Revises: 0001
Create Date: 2026-12-01 23:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = "serving_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "service_times",
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=160), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "metric", name=op.f("pk_service_times")),
    )


def downgrade():
    op.drop_table("service_times")
