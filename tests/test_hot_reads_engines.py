"""The hot reads that pass id lists to statements built once (expanding ``IN`` parameters) give the same
answers on PostgreSQL and on SQLite, the database of `make run`: a signed-in feed's hearts, the
notification list with its actors and targets, a followed artist's card with its style and tags."""

from __future__ import annotations

import pytest
from factories import (
    create_artist,
    create_follow,
    create_generation,
    create_like,
    create_notification,
    create_style,
    create_user,
    seeded,
)

from stylelicense.extensions import db
from tests.conftest import ApiClient, base_env


@pytest.fixture(params=["postgresql", "sqlite"])
def engine_app(request, database_url, tmp_path):
    from stylelicense.app import create_app

    url = database_url if request.param == "postgresql" else f"sqlite:///{tmp_path / 'hot.db'}"
    application = create_app(env=base_env(tmp_path, url))
    application.test_client_class = ApiClient
    if request.param == "sqlite":
        with application.app_context():
            # Only the default database: another test's app may have registered a replica bind.
            db.create_all(bind_key=None)
    return application


def test_hearts_notifications_and_cards_on_both_databases(engine_app):
    with seeded(engine_app):
        artist = create_artist("inkmaker", "Ink Maker")
        style = create_style(artist, title="Ink Rain", tags=["ink", "rain"])
        fan = create_user("fan")
        liked, other = (create_generation(fan, style, is_public=True) for _ in range(2))
        create_like(fan, liked)
        create_follow(fan, artist)
        create_notification(fan, "like", target_type="generation", target_id=liked.id, actor=artist)
        ids = {"liked": liked.id, "other": other.id, "artist": artist.id}

    client = engine_app.test_client()
    assert client.post("/api/auth/dev-login", json={"email": "fan@example.com", "username": "fan"}).status_code == 200

    feed = client.get("/api/generations/feed").get_json()["data"]["results"]
    assert {item["id"]: item["is_liked"] for item in feed} == {ids["liked"]: True, ids["other"]: False}

    notifications = client.get("/api/notifications").get_json()["data"]["results"]
    assert len(notifications) == 1
    assert notifications[0]["actor"]["id"] == ids["artist"]
    assert notifications[0]["target"]["id"] == ids["liked"]

    following = client.get("/api/users/me/following").get_json()["data"]["results"]
    assert [card["id"] for card in following] == [ids["artist"]] and following[0]["is_following"] is True
    assert following[0]["style"]["title"] == "Ink Rain" and {"ink", "rain"} <= set(following[0]["style"]["tags"])
