"""Counters under real concurrency on PostgreSQL: many users (threads, each with its own client,
app context and database connection) liking and unliking the same image at the same moment."""

from __future__ import annotations

import threading

import pytest
from conftest import ApiClient, base_env
from factories import count_rows, create_artist, create_generation, create_style, create_user, fetch, seeded

from stylelicense.community.models import Comment, Follow, Like
from stylelicense.generations.models import Generation
from stylelicense.notifications.models import Notification
from stylelicense.users.models import Artist

USERS = 50


@pytest.fixture(scope="module")
def wide_app(database_url, tmp_path_factory):
    """The app with a pool big enough that all 50 users really hold a connection at once."""
    from stylelicense.app import create_app

    application = create_app(
        env=base_env(tmp_path_factory.mktemp("wide"), database_url),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": USERS, "max_overflow": 5, "pool_timeout": 60},
    )
    application.test_client_class = ApiClient
    yield application
    with application.app_context():
        from stylelicense.extensions import db

        db.engine.dispose()


def _signed_in_clients(app, count: int, prefix: str = "liker"):
    clients = []
    for i in range(count):
        client = app.test_client()
        response = client.post(
            "/api/auth/dev-login", json={"email": f"{prefix}{i}@example.com", "username": f"{prefix}{i}"}
        )
        assert response.status_code == 200
        client.get("/api/auth/csrf")
        clients.append(client)
    return clients


def _run_at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def target(i):
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException as error:  # surfaced below; a thread's exception would be lost otherwise
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


def test_fifty_users_like_and_unlike_the_same_image_at_once(wide_app):
    with seeded(wide_app):
        owner = create_user("owner")
        generation = create_generation(owner, create_style(create_artist("painter")), is_public=True)
        generation_id = generation.id
    clients = _signed_in_clients(wide_app, USERS)
    url = f"/api/generations/{generation_id}/like"

    def work(i):
        client = clients[i]
        statuses = [client.post(url).status_code, client.delete(url).status_code]
        if i % 2 == 0:  # half of them end up liking it
            statuses.append(client.post(url).status_code)
        return statuses

    results = _run_at_once(USERS, work)
    for i, statuses in enumerate(results):
        assert statuses == ([201, 200, 201] if i % 2 == 0 else [201, 200]), (i, statuses)
    rows = count_rows(wide_app, Like, Like.generation_id == generation_id)
    assert rows == USERS // 2
    assert fetch(wide_app, Generation, generation_id, "like_count") == rows
    # Every liker notified the owner exactly once, however often they liked.
    assert count_rows(wide_app, Notification, Notification.type == "like") == USERS


def test_the_same_user_liking_twice_at_once_gets_one_like(wide_app):
    """Two tabs of each user press like at the same moment: one 201 and one 409 per user."""
    with seeded(wide_app):
        generation = create_generation(create_user("owner"), create_style(create_artist("painter")), is_public=True)
        generation_id = generation.id
    users = 10
    tabs = []
    for i in range(users):
        first, second = _signed_in_clients(wide_app, 1, f"tab{i}x")[0], wide_app.test_client()
        second.post("/api/auth/dev-login", json={"email": f"tab{i}x0@example.com", "username": f"tab{i}x0"})
        tabs += [first, second]
    results = _run_at_once(len(tabs), lambda i: tabs[i].post(f"/api/generations/{generation_id}/like").status_code)
    for i in range(users):
        assert sorted(results[2 * i : 2 * i + 2]) == [201, 409], results
    assert count_rows(wide_app, Like) == users
    assert fetch(wide_app, Generation, generation_id, "like_count") == users


def test_fifty_users_follow_and_unfollow_an_artist_at_once(wide_app):
    with seeded(wide_app):
        painter = create_artist("painter")
        painter_id, artist_id = painter.id, painter.artist.id
    clients = _signed_in_clients(wide_app, USERS, "fan")
    url = f"/api/users/{painter_id}/follow"

    def work(i):
        statuses = [clients[i].post(url).status_code]
        if i % 5 == 0:
            statuses.append(clients[i].delete(url).status_code)
        return statuses

    results = _run_at_once(USERS, work)
    assert all(s == ([201, 200] if i % 5 == 0 else [201]) for i, s in enumerate(results)), results
    rows = count_rows(wide_app, Follow, Follow.following_id == painter_id)
    assert rows == USERS - USERS // 5
    assert fetch(wide_app, Artist, artist_id, "follower_count") == rows


def test_deleting_a_comment_while_someone_replies_keeps_comment_count_right(wide_app):
    """A delete and a reply to the same comment at the same moment, many times over: whichever wins,
    the counter equals the visible comments (a reply is never cascaded away uncounted)."""
    with seeded(wide_app):
        generation = create_generation(create_user("owner"), create_style(create_artist("painter")), is_public=True)
        generation_id = generation.id
    author, replier = _signed_in_clients(wide_app, 2, "talker")
    url = f"/api/generations/{generation_id}/comments"
    outcomes = set()
    for _ in range(12):
        comment_id = author.post(url, json={"body": "soon gone"}).get_json()["data"]["id"]

        def race(i, comment_id=comment_id):
            if i == 0:
                return author.delete(f"/api/comments/{comment_id}")
            return replier.post(url, json={"body": "wait!", "parent_id": comment_id})

        deleted, replied = _run_at_once(2, race)
        assert deleted.status_code == 200
        assert replied.status_code in (201, 409, 422), replied.get_json()
        outcomes.add((deleted.get_json()["data"]["kept_as_placeholder"], replied.status_code))
    visible = count_rows(wide_app, Comment, Comment.generation_id == generation_id, Comment.is_deleted.is_(False))
    assert fetch(wide_app, Generation, generation_id, "comment_count") == visible
    assert outcomes <= {(True, 201), (False, 409), (False, 422)}, outcomes
