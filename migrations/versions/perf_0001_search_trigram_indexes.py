"""search: trigram indexes for substring and prefix matches

Revision ID: perf_0001
Revises: trust_0001
Create Date: 2026-12-01 23:40:00

On PostgreSQL, GIN ``gin_trgm_ops`` indexes (pg_trgm, a trusted extension since PostgreSQL 13) serve
``ILIKE '%q%'`` and ``ILIKE 'q%'`` on style titles, tag names, artist names and usernames, so a search
reads its candidates from the index instead of scanning the catalogue. Other databases get a plain
index of the same name (SQLite, ``make run``), so the schema matches the models everywhere.
"""
from alembic import op

revision = "perf_0001"
down_revision = "trust_0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_styles_title_trgm", "styles", "title"),
    ("ix_tags_name_trgm", "tags", "name"),
    ("ix_artists_artist_name_trgm", "artists", "artist_name"),
    ("ix_users_username_trgm", "users", "username"),
)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        if postgresql:
            op.create_index(name, table, [column], postgresql_using="gin",
                            postgresql_ops={column: "gin_trgm_ops"})
        else:
            op.create_index(name, table, [column])


def downgrade():
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
    # The extension stays: other objects may use it, and it costs nothing unused.
