"""styles: is_paused, samples, training_report; image_fingerprints (training-image safeguard)

Revision ID: trust_0001
Revises: web_0001
Create Date: 2026-12-01 23:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = "trust_0001"
down_revision = "web_0001"
branch_labels = None
depends_on = None

_BANDS = ("p0", "p1", "p2", "p3", "d0", "d1", "d2", "d3")


def _bands(value: int) -> list[int]:
    unsigned = value + (1 << 64) if value < 0 else value
    return [(unsigned >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]


def upgrade():
    with op.batch_alter_table("styles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_paused", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("samples", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("training_report", sa.JSON(), nullable=True))

    fingerprints = op.create_table(
        "image_fingerprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("artist_id", sa.Integer(), nullable=True),
        sa.Column("style_id", sa.Integer(), nullable=True),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("dhash", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _BANDS),
        sa.CheckConstraint("source IN ('artwork', 'output')", name=op.f("ck_image_fingerprints_source_valid")),
        sa.ForeignKeyConstraint(["artist_id"], ["artists.id"], name=op.f("fk_image_fingerprints_artist_id_artists"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["style_id"], ["styles.id"], name=op.f("fk_image_fingerprints_style_id_styles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_fingerprints")),
    )
    with op.batch_alter_table("image_fingerprints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_fingerprints_artist_id"), ["artist_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_image_fingerprints_style_id"), ["style_id"], unique=False)
        for name in _BANDS:
            batch_op.create_index(f"ix_image_fingerprints_{name}", [name], unique=False)

    # Outputs delivered before this revision: their whole-image hashes are on the licences.
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT phash, dhash FROM licences WHERE phash IS NOT NULL AND dhash IS NOT NULL")).fetchall()
    if rows:
        op.bulk_insert(fingerprints, [
            {"source": "output", "artist_id": None, "style_id": None, "phash": p, "dhash": d,
             **dict(zip(_BANDS, _bands(p) + _bands(d)))}
            for p, d in rows])


def downgrade():
    with op.batch_alter_table("image_fingerprints", schema=None) as batch_op:
        for name in _BANDS:
            batch_op.drop_index(f"ix_image_fingerprints_{name}")
        batch_op.drop_index(batch_op.f("ix_image_fingerprints_style_id"))
        batch_op.drop_index(batch_op.f("ix_image_fingerprints_artist_id"))
    op.drop_table("image_fingerprints")
    with op.batch_alter_table("styles", schema=None) as batch_op:
        batch_op.drop_column("training_report")
        batch_op.drop_column("samples")
        batch_op.drop_column("is_paused")
