"""a payment canceled at Toss after crediting takes the tokens back (purchase_reversal rows)

Revision ID: h16_0001
Revises: harden_0001
Create Date: 2026-12-02 02:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = "h16_0001"
down_revision = "harden_0001"
branch_labels = None
depends_on = None

OLD = ("transaction_type IN ('welcome_bonus', 'grant', 'purchase', 'generation_charge', 'artist_credit', "
       "'refund')")
NEW = ("transaction_type IN ('welcome_bonus', 'grant', 'purchase', 'generation_charge', 'artist_credit', "
       "'refund', 'purchase_reversal')")


def upgrade():
    # batch mode rebuilds the table on SQLite, where a CHECK cannot be altered in place
    with op.batch_alter_table("transactions") as batch_op:
        batch_op.drop_constraint(op.f("ck_transactions_type_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_transactions_type_valid"), NEW)
    with op.batch_alter_table("purchases") as batch_op:
        batch_op.add_column(sa.Column("canceled_amount", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("reversed_tokens", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("reversal_shortfall", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("purchases") as batch_op:
        batch_op.drop_column("reversal_shortfall")
        batch_op.drop_column("reversed_tokens")
        batch_op.drop_column("canceled_amount")
    op.execute("DELETE FROM transactions WHERE transaction_type = 'purchase_reversal'")
    with op.batch_alter_table("transactions") as batch_op:
        batch_op.drop_constraint(op.f("ck_transactions_type_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_transactions_type_valid"), OLD)
