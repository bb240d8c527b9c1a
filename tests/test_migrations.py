"""Migrations are reviewed code: one head, `upgrade` works on empty PostgreSQL and SQLite databases
(through the real `flask db upgrade` command), downgrade/upgrade round-trips, and the migrated
schema is exactly what the models describe (Alembic's autogenerate finds nothing to do)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from stylelicense.app import import_all_models
from stylelicense.extensions import db
from tests.conftest import ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent


def flask_db(url: str, tmp_path: Path, *args: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STYLELICENSE_ENV": "testing",
        "SECRET_KEY": "s",
        "INTERNAL_API_TOKEN": "t",
        "STYLELICENSE_INSTANCE": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def schema_differences(url: str) -> list:
    """What autogenerate would change to make the database match the models (empty = they agree)."""
    import_all_models()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def empty_postgres():
    name = f"sl_migrate_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_exactly_one_head():
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, script.get_heads()
    # ...and every revision is on the line to that head (no orphaned branch).
    revisions = list(script.walk_revisions())
    assert len(revisions) == len(list(script.iterate_revisions(script.get_current_head(), "base")))


def test_upgrade_on_empty_postgresql_matches_the_models(empty_postgres, tmp_path):
    import_all_models()
    flask_db(empty_postgres, tmp_path, "upgrade")
    assert tables(empty_postgres) == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences(empty_postgres) == []

    # Down to nothing and back up again.
    flask_db(empty_postgres, tmp_path, "downgrade", "base")
    assert tables(empty_postgres) == {"alembic_version"}
    flask_db(empty_postgres, tmp_path, "upgrade")
    assert schema_differences(empty_postgres) == []


def test_upgrade_on_empty_sqlite_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    import_all_models()
    flask_db(url, tmp_path, "upgrade")
    assert tables(url) == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences(url) == []


def test_postgresql_constraints_of_the_spec_are_in_the_migrated_schema(empty_postgres, tmp_path):
    """The constraints SPEC §5 names, read back from the migrated database (not from the models)."""
    flask_db(empty_postgres, tmp_path, "upgrade")
    engine = create_engine(empty_postgres)
    try:
        inspector = inspect(engine)
        checks = {c["name"] for table in ("users", "artists") for c in inspector.get_check_constraints(table)}
        assert {"ck_users_token_balance_non_negative", "ck_artists_earned_token_balance_non_negative"} <= checks
        assert any("follower_id <> following_id" in c["sqltext"] for c in inspector.get_check_constraints("follows"))
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("users")}
        assert ("google_sub",) in uniques
        assert ("follower_id", "following_id") in {
            tuple(u["column_names"]) for u in inspector.get_unique_constraints("follows")
        }
        assert ("user_id", "generation_id") in {
            tuple(u["column_names"]) for u in inspector.get_unique_constraints("likes")
        }
        assert ("idempotency_key",) in {
            tuple(u["column_names"]) for u in inspector.get_unique_constraints("transactions")
        }
        style_fk = [fk for fk in inspector.get_foreign_keys("generations") if fk["referred_table"] == "styles"]
        assert style_fk[0]["options"].get("ondelete") == "RESTRICT"
        indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("generations")}
        assert ("user_id", "created_at") in indexes
        assert ("user_id", "created_at") in {tuple(i["column_names"]) for i in inspector.get_indexes("transactions")}
        # Every foreign key column is indexed (SPEC §5), either alone or as an index's first column.
        for table in inspector.get_table_names():
            leading = {i["column_names"][0] for i in inspector.get_indexes(table)}
            leading |= {u["column_names"][0] for u in inspector.get_unique_constraints(table)}
            primary = inspector.get_pk_constraint(table)["constrained_columns"]
            for fk in inspector.get_foreign_keys(table):
                column = fk["constrained_columns"][0]
                assert column in leading or column == primary[0], f"{table}.{column} has no index"
    finally:
        engine.dispose()


def test_licensee_names_are_backfilled_from_the_buyers(empty_postgres, tmp_path):
    """h16_0002 snapshots the licensee's name on every existing licence (its buyer's username then)."""
    flask_db(empty_postgres, tmp_path, "upgrade", "h16_0001")
    engine = create_engine(empty_postgres)
    try:
        with engine.begin() as connection:
            for user_id, name in ((1, "painter"), (2, "buyer")):
                connection.execute(
                    text("INSERT INTO users (id, google_sub, email, username) VALUES (:id, :sub, :email, :name)"),
                    {"id": user_id, "sub": f"dev:{name}", "email": f"{name}@x.test", "name": name},
                )
            connection.execute(
                text(
                    "INSERT INTO artists (id, user_id, artist_name, contact_email, "
                    "signature_image_key) VALUES (1, 1, 'Painter', 'p@x.test', 's.png')"
                )
            )
            connection.execute(
                text("INSERT INTO styles (id, artist_id, title, generation_cost_tokens) VALUES (1, 1, 'Ink', 10)")
            )
            connection.execute(
                text(
                    "INSERT INTO generations (id, user_id, style_id, prompt_tags, seed, cost_tokens) "
                    "VALUES (1, 2, 1, '[\"cat\"]', 1, 10)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO licences (serial, generation_id, terms_version, artist_id, style_id, "
                    "buyer_id, artist_name, style_title) VALUES (77, 1, 'sl-1.0', 1, 1, 2, 'Painter', "
                    "'Ink')"
                )
            )
        flask_db(empty_postgres, tmp_path, "upgrade")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT licensee_name FROM licences")).scalar_one() == "buyer"
    finally:
        engine.dispose()
