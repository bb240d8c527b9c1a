"""The demo data command at a small size: counters equal rows, the data is usable through the API,
the ledger stays consistent, a second run changes nothing; and it works on SQLite (`make run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from factories import count_rows
from sqlalchemy import func, select

from stylelicense.community.models import Comment, Follow, Like
from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.notifications.models import Notification
from stylelicense.styles.models import Style
from stylelicense.users.models import Artist, User

ROOT = Path(__file__).resolve().parent.parent
SIZES = ["--styles", "15", "--generations", "300", "--likes", "2500", "--users", "70"]


def test_demo_create_is_consistent_and_usable(app, client, login):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "create", *SIZES])
    assert result.exit_code == 0, result.output
    assert count_rows(app, User) == 70 and count_rows(app, Artist) == 15 and count_rows(app, Style) == 15
    assert count_rows(app, Generation) == 300 and count_rows(app, Like) == 2500
    assert count_rows(app, Follow) > 0 and count_rows(app, Comment) > 0

    with app.app_context():
        session = db.session
        # counters equal their rows
        likes = dict(session.execute(select(Like.generation_id, func.count()).group_by(Like.generation_id)).all())
        comments = dict(
            session.execute(select(Comment.generation_id, func.count()).group_by(Comment.generation_id)).all()
        )
        for generation in session.scalars(select(Generation)):
            assert generation.like_count == likes.get(generation.id, 0)
            assert generation.comment_count == comments.get(generation.id, 0)
            if generation.like_count:
                assert generation.is_public and generation.status == "completed"
        follows = dict(session.execute(select(Follow.following_id, func.count()).group_by(Follow.following_id)).all())
        for artist in session.scalars(select(Artist)):
            assert artist.follower_count == follows.get(artist.user_id, 0)
        made = dict(session.execute(select(Generation.style_id, func.count()).group_by(Generation.style_id)).all())
        assert all(style.generation_count == made.get(style.id, 0) for style in session.scalars(select(Style)))
        # skewed: the most liked image has many times the median
        counts = sorted(likes.values())
        assert counts[-1] >= 5 * counts[len(counts) // 2]
        # every like by someone else notified the owner once
        liked_by_others = session.scalar(
            select(func.count())
            .select_from(Like)
            .join(Generation, Generation.id == Like.generation_id)
            .where(Like.user_id != Generation.user_id)
        )
        assert count_rows(app, Notification, Notification.type == "like") == liked_by_others
        from stylelicense.tokens.ledger_audit import verify_ledger

        assert verify_ledger() == []
    check = runner.invoke(args=["community", "check-counters"])
    assert check.exit_code == 0 and "all counters match" in check.output

    # the printed account signs in with the dev login and has an inbox with targets
    email = result.output.split("sign in (dev login) as ")[1].split()[0]
    response = client.post("/api/auth/dev-login", json={"email": email, "username": email.split("@")[0]})
    assert response.status_code == 200, response.get_json()
    inbox = client.get("/api/notifications").get_json()["data"]
    assert inbox["results"] and any(n["type"] == "like" and n["target"] for n in inbox["results"])
    popular = client.get("/api/search", query_string={"q": "portrait", "type": "styles"}).get_json()["data"]
    assert popular["styles"] and all(hit["matched_by"] in ("tag", "name") for hit in popular["styles"])
    thumb = popular["styles"][0]["thumbnail_url"]
    assert client.get(thumb).status_code == 200  # the placeholder pictures are really in storage

    again = runner.invoke(args=["demo", "create", *SIZES])
    assert again.exit_code == 0 and "already present" in again.output
    assert count_rows(app, Like) == 2500


def test_check_counters_reports_drift(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "create", *SIZES, "--no-images"]).exit_code == 0
    with app.app_context():
        generation = db.session.scalar(select(Generation).where(Generation.like_count > 0).limit(1))
        generation.like_count += 1
        drifted = generation.id
        db.session.commit()
    result = runner.invoke(args=["community", "check-counters"])
    assert result.exit_code != 0 and f"generation {drifted}: like_count" in result.output


def test_impossible_sizes_are_refused(app):
    result = app.test_cli_runner().invoke(args=["demo", "create", "--styles", "10", "--users", "5"])
    assert result.exit_code != 0 and "more users than styles" in result.output
    assert count_rows(app, User) == 0


def test_default_demo_set_on_sqlite(tmp_path):
    """`make run` uses SQLite: the default set is created there too (through the real command line)."""
    env = {
        **os.environ,
        "STYLELICENSE_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "STORAGE_URL": (tmp_path / "storage").as_uri(),
        "STYLELICENSE_INSTANCE": str(tmp_path / "instance"),
        "CELERY_BROKER_URL": "memory://",
    }

    def flask(*args):
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert flask("db", "upgrade").returncode == 0
    result = flask("demo", "create")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "likes 1,200" in result.stdout and "generations 240" in result.stdout
    check = flask("community", "check-counters")
    assert check.returncode == 0, check.stdout + check.stderr
    assert any((tmp_path / "storage" / "public" / "demo").iterdir())
