"""The public read cache (stylelicense/cache.py): public answers come from it, per-user data never
crosses between users, private images never appear, and the writes that change a public answer
show at once. Runs an app with the cache on (the suite's shared app has it off)."""

from __future__ import annotations

import secrets

import pytest
from factories import count_queries, create_artist, create_generation, create_like, create_style, create_user, seeded

from stylelicense import cache
from tests.conftest import ApiClient, base_env


@pytest.fixture
def cached_app(app, database_url, tmp_path):
    from stylelicense.app import create_app

    application = create_app(env=base_env(tmp_path, database_url, PUBLIC_CACHE_SECONDS="60"))
    application.test_client_class = ApiClient
    return application


@pytest.fixture
def world(cached_app):
    with seeded(cached_app):
        artist = create_artist("painter", "Painter")
        style = create_style(artist, title="Velvet Night", tags=["night"])
        hidden = create_style(artist, title="Unfinished", status="training")
        fan = create_user("fan")
        public = create_generation(fan, style, is_public=True, description="public one")
        private = create_generation(fan, style, is_public=False, description="PRIVATE-TEXT")
        create_like(fan, public)
        return {
            "artist_user": artist.id,
            "style": style.id,
            "hidden": hidden.id,
            "public": public.id,
            "private": private.id,
            "private_thumb": private.thumbnail_key,
        }


def _sign_in(client, username):
    response = client.post("/api/auth/dev-login", json={"email": f"{username}@example.com", "username": username})
    assert response.status_code == 200, response.get_json()


def _feed(client):
    response = client.get("/api/generations/feed")
    assert response.status_code == 200
    return response, {item["id"]: item for item in response.get_json()["data"]["results"]}


@pytest.mark.parametrize("first", ["anonymous", "signed_in"])
def test_a_signed_in_answer_never_reaches_anonymous_and_back(cached_app, world, first):
    anonymous, fan = cached_app.test_client(), cached_app.test_client()
    _sign_in(fan, "fan")
    order = [anonymous, fan] if first == "anonymous" else [fan, anonymous]
    for client in order + order:  # the second round is served from the cache
        response, items = _feed(client)
        if client is fan:
            assert items[world["public"]]["is_liked"] is True
            assert response.headers["Cache-Control"] == "private, no-cache"
        else:
            assert items[world["public"]]["is_liked"] is False
            assert response.headers["Cache-Control"].startswith("public, max-age=")
        assert "Cookie" in response.headers["Vary"]


def test_private_images_never_appear_and_unpublishing_shows_at_once(cached_app, world):
    anonymous, owner = cached_app.test_client(), cached_app.test_client()
    _sign_in(owner, "fan")
    urls = [
        "/api/generations/feed",
        f"/api/styles/{world['style']}",
        f"/api/users/{world['artist_user']}",
        "/api/styles",
        "/api/search?q=velvet",
    ]
    for client in (anonymous, owner, anonymous):
        for url in urls:
            text = client.get(url).get_data(as_text=True)
            assert "PRIVATE-TEXT" not in text and world["private_thumb"] not in text, url
    assert world["public"] in _feed(anonymous)[1]  # cached now
    response = owner.patch(f"/api/generations/{world['public']}", json={"is_public": False})
    assert response.status_code == 200
    assert world["public"] not in _feed(anonymous)[1]
    assert world["public"] not in _feed(owner)[1]


def test_public_answers_come_from_the_cache_with_validators(cached_app, world):
    client = cached_app.test_client()
    first = client.get("/api/styles?sort=popular")
    assert first.status_code == 200 and first.headers["ETag"]
    with count_queries(cached_app) as statements:
        again = client.get("/api/styles?sort=popular")
    assert again.get_data() == first.get_data() and statements == []
    search = client.get("/api/search?q=velvet")
    with count_queries(cached_app) as statements:
        assert client.get("/api/search?q=velvet").get_data() == search.get_data()
    assert statements == []  # the second search is served without the database
    unchanged = client.get("/api/styles?sort=popular", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""


def test_untrained_style_stays_owner_only(cached_app, world):
    anonymous, owner = cached_app.test_client(), cached_app.test_client()
    assert anonymous.get(f"/api/styles/{world['hidden']}").status_code == 404
    _sign_in(owner, "painter")
    mine = owner.get(f"/api/styles/{world['hidden']}")
    assert mine.status_code == 200 and mine.get_json()["data"]["training_status"] == "training"
    assert mine.headers["Cache-Control"] == "no-store"
    assert anonymous.get(f"/api/styles/{world['hidden']}").status_code == 404


def test_a_cached_style_page_still_answers_its_owner_from_the_database(cached_app, world):
    anonymous, owner, fan = cached_app.test_client(), cached_app.test_client(), cached_app.test_client()
    url = f"/api/styles/{world['style']}"
    assert anonymous.get(url).headers["Cache-Control"].startswith("public")
    _sign_in(fan, "fan")
    with count_queries(cached_app) as statements:
        seen_by_fan = fan.get(url)
    # Someone else's style comes from the cache: the entry knows its owner, no query asks.
    assert seen_by_fan.headers["Cache-Control"] == "private, no-cache" and statements == []
    _sign_in(owner, "painter")
    mine = owner.get(url)
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
    assert mine.get_json()["data"]["id"] == world["style"]


def test_public_edits_show_at_once(cached_app, world):
    anonymous, painter = cached_app.test_client(), cached_app.test_client()
    assert anonymous.get(f"/api/styles/{world['style']}").get_json()["data"]["title"] == "Velvet Night"
    assert anonymous.get("/api/search?q=velvet").get_json()["data"]["styles"]
    _sign_in(painter, "painter")
    response = painter.patch(f"/api/styles/{world['style']}", json={"title": "Copper Dawn"})
    assert response.status_code == 200, response.get_json()
    assert anonymous.get(f"/api/styles/{world['style']}").get_json()["data"]["title"] == "Copper Dawn"
    # The old title stays a tag of the style: still found, under its new title.
    assert [
        (h["title"], h["matched_by"]) for h in anonymous.get("/api/search?q=velvet").get_json()["data"]["styles"]
    ] == [("Copper Dawn", "tag")]
    assert anonymous.get("/api/search?q=copper").get_json()["data"]["styles"]
    # A moderation command (another process in production, through Redis) invalidates too.
    result = cached_app.test_cli_runner().invoke(args=["tags", "flag", "copper dawn"])
    assert result.exit_code == 0, result.output
    assert anonymous.get("/api/search?q=copper").get_json()["data"]["styles"] == []


def test_per_user_answers_are_never_stored(cached_app, world):
    fan = cached_app.test_client()
    _sign_in(fan, "fan")
    for url in ("/api/auth/me", "/api/tokens/balance", "/api/notifications", "/api/generations/me"):
        response = fan.get(url)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", url


def test_redis_backend_is_shared_between_processes(app, database_url, tmp_path, world):
    """Two apps (two API processes) on one Redis: an edit through one is seen at once through the other."""
    from stylelicense.app import create_app

    prefix = f"sl-test-{secrets.token_hex(4)}:"
    apps = [
        create_app(
            env=base_env(
                tmp_path / str(i), database_url, PUBLIC_CACHE_SECONDS="60", CACHE_URL="redis://127.0.0.1:6379/0"
            ),
            CACHE_KEY_PREFIX=prefix,
        )
        for i in range(2)
    ]
    for each in apps:
        each.test_client_class = ApiClient
    reader, writer = apps[0].test_client(), apps[1].test_client()
    assert reader.get(f"/api/styles/{world['style']}").get_json()["data"]["title"] == "Velvet Night"
    with count_queries(apps[0]) as statements:
        reader.get(f"/api/styles/{world['style']}")
    assert statements == []
    _sign_in(writer, "painter")
    assert writer.patch(f"/api/styles/{world['style']}", json={"title": "Copper Dawn"}).status_code == 200
    assert reader.get(f"/api/styles/{world['style']}").get_json()["data"]["title"] == "Copper Dawn"
    with apps[0].app_context():
        cache.clear()


def test_read_replica_serves_public_misses_but_not_right_after_a_change(app, database_url, tmp_path, world):
    """DATABASE_REPLICA_URL (here: a second engine on the same database): public cache misses read from
    it; signed-in data and writes never do; right after a public change the primary answers."""
    from sqlalchemy import event

    from stylelicense.app import create_app
    from stylelicense.extensions import db

    replica_app = create_app(
        env=base_env(tmp_path, database_url, PUBLIC_CACHE_SECONDS="60", DATABASE_REPLICA_URL=database_url)
    )
    replica_app.test_client_class = ApiClient
    seen: dict[str, list[str]] = {"primary": [], "replica": []}
    with replica_app.app_context():
        engines = {"primary": db.engine, "replica": db.engines["replica"]}
    listeners = {name: (lambda _c, _cur, statement, *_a, name=name: seen[name].append(statement)) for name in engines}
    for name, engine in engines.items():
        event.listen(engine, "before_cursor_execute", listeners[name])
    anonymous, painter = replica_app.test_client(), replica_app.test_client()
    assert anonymous.get("/api/styles").status_code == 200
    assert seen["replica"] and not [s for s in seen["primary"] if s.lstrip().upper().startswith("SELECT")]
    _sign_in(painter, "painter")
    seen["replica"].clear()
    assert painter.get("/api/auth/me").status_code == 200
    assert painter.patch(f"/api/styles/{world['style']}", json={"title": "Copper Dawn"}).status_code == 200
    assert seen["replica"] == []  # the user's own data and the write: primary only
    assert anonymous.get("/api/styles").get_json()["data"]["results"][0]["title"] == "Copper Dawn"
    assert seen["replica"] == []  # just after the change: the primary answered
    for name, engine in engines.items():
        event.remove(engine, "before_cursor_execute", listeners[name])
        engine.dispose()
