"""deploy/backup.sh: a backup restored into a fresh database has the same rows and a clean ledger."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_URL, ROOT


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        tables = (
            connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))
            .scalars()
            .all()
        )
        counts = {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() for table in tables}
    engine.dispose()
    return counts


def test_backup_then_restore_into_fresh_database(app, client, login, make_artist, database_url, tmp_path):
    # Some real data through the API: users with welcome bonuses, an artist, a grant.
    login(client, "buyer")
    make_artist(app.test_client(), "painter")
    from stylelicense.extensions import db
    from stylelicense.tokens import ledger
    from stylelicense.users.models import User

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "buyer"))
        ledger.grant_tokens(user, 250, memo="backup test", key="backup-test")
        db.session.commit()
    before = _counts(database_url)
    assert before["users"] == 2 and before["transactions"] == 3

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BACKUP_BUCKET_URL": (tmp_path / "backups").as_uri(),
        "BACKUP_KEEP_DAYS": "14",
        "PYTHON": sys.executable,
    }
    backup = subprocess.run(
        ["bash", "deploy/backup.sh", "backup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert backup.returncode == 0, backup.stderr
    name = backup.stdout.strip().splitlines()[-1]
    assert (tmp_path / "backups" / name).stat().st_size > 0

    fresh = f"sl_restore_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{fresh}"'))
    restored_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{fresh}"
    try:
        restore = subprocess.run(
            ["bash", "deploy/backup.sh", "restore", name],
            cwd=ROOT,
            env={**env, "RESTORE_DATABASE_URL": restored_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restore.returncode == 0, restore.stderr
        assert _counts(restored_url) == before

        verify = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "ledger", "verify"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": restored_url,
                "STYLELICENSE_ENV": "testing",
                "SECRET_KEY": "x",
                "INTERNAL_API_TOKEN": "y",
                "STYLELICENSE_INSTANCE": str(tmp_path / "instance"),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()
