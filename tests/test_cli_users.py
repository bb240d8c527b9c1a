"""Operator commands: `flask --app wsgi users list|find|promote|deactivate`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.users.models import Artist, User


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def _run(*args: str):
        return runner.invoke(args=["users", *args])

    return _run


@pytest.fixture
def people(client, make_client, login):
    ana = login(client, "ana", "ana@example.com")
    bob = login(make_client(), "bob", "bob@work.example")
    return ana, bob


def test_the_group_lists_its_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("list", "find", "promote", "deactivate"):
        assert command in result.output


def test_list_shows_newest_first_with_a_limit(cli, people):
    ana, bob = people
    result = cli("list")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["bob", "ana"]
    assert f"{bob['id']}\tbob\tbob@work.example\tuser\tbalance=100" == lines[0]
    assert cli("list", "--limit", "1").output.strip().splitlines() == lines[:1]


def test_find_matches_email_or_username(cli, people):
    assert [line.split("\t")[1] for line in cli("find", "work.example").output.splitlines()] == ["bob"]
    assert [line.split("\t")[1] for line in cli("find", "AN").output.splitlines()] == ["ana"]
    result = cli("find", "nobody-here")
    assert result.exit_code != 0 and "no match" in result.output


def test_promote_makes_an_artist(app, cli, client, people):
    ana, _ = people
    result = cli("promote", "ana@example.com", "--artist-name", "Ana Studio")
    assert result.exit_code == 0, result.output
    assert "artist='Ana Studio'" in result.output
    me = client.get(f"/api/users/{ana['id']}").get_json()["data"]
    assert me["role"] == "artist" and me["artist"]["artist_name"] == "Ana Studio"
    with app.app_context():
        artist = db.session.scalar(select(Artist).where(Artist.user_id == ana["id"]))
        assert artist.contact_email == "ana@example.com"
    # Promoting again changes nothing and does not fail.
    assert cli("promote", str(ana["id"]), "--artist-name", "Other").exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(Artist.artist_name).where(Artist.user_id == ana["id"])) == "Ana Studio"


def test_promote_refuses_bad_input_and_writes_nothing(app, cli, people):
    assert cli("promote", "ana", "--artist-name", "x" * 51).exit_code != 0
    assert cli("promote", "ana", "--artist-name", "   ").exit_code != 0
    result = cli("promote", "nobody", "--artist-name", "Ghost")
    assert result.exit_code != 0 and "no user 'nobody'" in result.output
    assert cli("promote", "ana").exit_code != 0  # --artist-name is required
    with app.app_context():
        assert db.session.scalar(select(Artist)) is None
        assert set(db.session.scalars(select(User.role))) == {"user"}


def test_deactivate_blocks_login_and_hides_the_profile(app, cli, client, make_client, people):
    _, bob = people
    bob_browser = make_client()
    bob_browser.post("/api/auth/dev-login", json={"email": "bob@work.example", "username": "bob"})
    assert bob_browser.get("/api/auth/me").status_code == 200

    result = cli("deactivate", "bob")
    assert result.exit_code == 0 and result.output.strip().endswith("DEACTIVATED")
    with app.app_context():
        user = db.session.get(User, bob["id"])
        assert user.is_active is False and user.deactivated_at is not None
    assert bob_browser.get("/api/auth/me").status_code == 401  # the open session is gone
    assert client.get(f"/api/users/{bob['id']}").status_code == 404
    again = make_client().post("/api/auth/dev-login", json={"email": "bob@work.example", "username": "bob"})
    assert again.status_code == 403
    # A deactivated account cannot be promoted.
    assert cli("promote", "bob", "--artist-name", "Bob").exit_code != 0
