"""generations may be cancelled (SPEC §13 Cancel)

Revision ID: web_0001
Revises: serving_0001
Create Date: 2026-12-01 23:40:00

"""
from alembic import op

revision = "web_0001"
down_revision = "serving_0001"
branch_labels = None
depends_on = None

OLD = "status IN ('queued', 'processing', 'retrying', 'completed', 'failed')"
NEW = "status IN ('queued', 'processing', 'retrying', 'completed', 'failed', 'cancelled')"


def upgrade():
    # batch mode rebuilds the table on SQLite, where a CHECK cannot be altered in place
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_constraint(op.f("ck_generations_status_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_generations_status_valid"), NEW)


def downgrade():
    op.execute("UPDATE generations SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_constraint(op.f("ck_generations_status_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_generations_status_valid"), OLD)
