"""Authorization matrix: every endpoint of community, notifications and search, called by an
anonymous visitor, the owner (of the images, comments and notifications), another user and an
artist (the one whose style made the images), with the status each must get. Nobody but the owner
sees or touches the private image."""

from __future__ import annotations

import pytest
from factories import (
    count_rows,
    create_artist,
    create_comment,
    create_follow,
    create_generation,
    create_like,
    create_notification,
    create_style,
    create_user,
    seeded,
)

from stylelicense.community.models import Comment, Follow, Like
from stylelicense.notifications.models import Notification

PERSONAS = ("anonymous", "owner", "other", "artist")
PRIVATE_TEXT = "a private note nobody else may read"

# endpoint: (method, url template, JSON body, {persona: status})
MATRIX = {
    "follow artist": (
        "post",
        "/api/users/{artist}/follow",
        None,
        {"anonymous": 401, "owner": 409, "other": 201, "artist": 400},
    ),
    "unfollow artist": (
        "delete",
        "/api/users/{artist}/follow",
        None,
        {"anonymous": 401, "owner": 200, "other": 404, "artist": 404},
    ),
    "follow a non-artist": (
        "post",
        "/api/users/{other}/follow",
        None,
        {"anonymous": 401, "owner": 404, "other": 400, "artist": 404},
    ),
    "list following": (
        "get",
        "/api/users/me/following",
        None,
        {"anonymous": 401, "owner": 200, "other": 200, "artist": 200},
    ),
    "like public": (
        "post",
        "/api/generations/{public}/like",
        None,
        {"anonymous": 401, "owner": 201, "other": 409, "artist": 201},
    ),
    "like private": (
        "post",
        "/api/generations/{private}/like",
        None,
        {"anonymous": 401, "owner": 422, "other": 404, "artist": 404},
    ),
    "unlike public": (
        "delete",
        "/api/generations/{public}/like",
        None,
        {"anonymous": 401, "owner": 404, "other": 200, "artist": 404},
    ),
    "unlike private": (
        "delete",
        "/api/generations/{private}/like",
        None,
        {"anonymous": 401, "owner": 422, "other": 404, "artist": 404},
    ),
    "read comments public": (
        "get",
        "/api/generations/{public}/comments",
        None,
        {"anonymous": 200, "owner": 200, "other": 200, "artist": 200},
    ),
    "read comments private": (
        "get",
        "/api/generations/{private}/comments",
        None,
        {"anonymous": 404, "owner": 200, "other": 404, "artist": 404},
    ),
    "comment public": (
        "post",
        "/api/generations/{public}/comments",
        {"body": "hi"},
        {"anonymous": 401, "owner": 201, "other": 201, "artist": 201},
    ),
    "comment private": (
        "post",
        "/api/generations/{private}/comments",
        {"body": "hi"},
        {"anonymous": 401, "owner": 201, "other": 404, "artist": 404},
    ),
    "reply on public": (
        "post",
        "/api/generations/{public}/comments",
        {"body": "re", "parent_id": "{comment}"},
        {"anonymous": 401, "owner": 201, "other": 201, "artist": 201},
    ),
    "edit comment": (
        "patch",
        "/api/comments/{comment}",
        {"body": "edited"},
        {"anonymous": 401, "owner": 200, "other": 403, "artist": 403},
    ),
    "delete comment": (
        "delete",
        "/api/comments/{comment}",
        None,
        {"anonymous": 401, "owner": 200, "other": 403, "artist": 403},
    ),
    "edit comment on private": (
        "patch",
        "/api/comments/{private_comment}",
        {"body": "edited"},
        {"anonymous": 401, "owner": 200, "other": 404, "artist": 404},
    ),
    "delete comment on private": (
        "delete",
        "/api/comments/{private_comment}",
        None,
        {"anonymous": 401, "owner": 200, "other": 404, "artist": 404},
    ),
    "list notifications": (
        "get",
        "/api/notifications",
        None,
        {"anonymous": 401, "owner": 200, "other": 200, "artist": 200},
    ),
    "read notification": (
        "patch",
        "/api/notifications/{notification}/read",
        None,
        {"anonymous": 401, "owner": 200, "other": 404, "artist": 404},
    ),
    "read all notifications": (
        "post",
        "/api/notifications/read-all",
        None,
        {"anonymous": 401, "owner": 200, "other": 200, "artist": 200},
    ),
    "search": ("get", "/api/search?q=dusk", None, {"anonymous": 200, "owner": 200, "other": 200, "artist": 200}),
}

CASES = [pytest.param(name, persona, id=f"{name}-{persona}") for name in MATRIX for persona in PERSONAS]


@pytest.fixture
def world(app):
    with seeded(app):
        artist = create_artist("artist", "Dusk Artist")
        style = create_style(artist, title="Dusk", tags=["evening"])
        owner = create_user("owner")
        other = create_user("other")
        public = create_generation(owner, style, is_public=True)
        private = create_generation(owner, style, is_public=False)
        comment = create_comment(owner, public, "my own comment")
        private_comment = create_comment(owner, private, PRIVATE_TEXT)
        create_follow(owner, artist)
        create_like(other, public)
        notification = create_notification(owner, "like", target_type="generation", target_id=public.id, actor=other)
        create_notification(owner, "comment", target_type="comment", target_id=private_comment.id)
        return {
            "artist": artist.id,
            "owner": owner.id,
            "other": other.id,
            "public": public.id,
            "private": private.id,
            "comment": comment.id,
            "private_comment": private_comment.id,
            "notification": notification.id,
            "private_thumbnail": private.thumbnail_key,
        }


def _fill(template, world):
    if isinstance(template, str):
        filled = template.format(**world)
        return int(filled) if template.startswith("{") and filled.isdigit() else filled
    if isinstance(template, dict):
        return {key: _fill(value, world) for key, value in template.items()}
    return template


def _client_for(persona, client, login):
    if persona != "anonymous":
        login(client, persona)
    return client


def _snapshot(app):
    return {model.__name__: count_rows(app, model) for model in (Follow, Like, Comment, Notification)}


@pytest.mark.parametrize("name,persona", CASES)
def test_authorization_matrix(app, client, login, world, name, persona):
    method, url, body, expected = MATRIX[name]
    caller = _client_for(persona, client, login)
    before = _snapshot(app)
    response = getattr(caller, method)(_fill(url, world), **({"json": _fill(body, world)} if body else {}))
    assert response.status_code == expected[persona], response.get_json()
    if response.status_code >= 400:
        assert response.get_json()["success"] is False
        assert _snapshot(app) == before  # a refused request writes nothing
    if persona != "owner":
        text = response.get_data(as_text=True)
        assert PRIVATE_TEXT not in text and world["private_thumbnail"] not in text


@pytest.mark.parametrize("persona", ["anonymous", "other", "artist"])
def test_no_read_endpoint_leaks_the_private_image(app, client, login, world, persona):
    caller = _client_for(persona, client, login)
    urls = ["/api/search?q=dusk", "/api/search?q=owner", f"/api/generations/{world['public']}/comments"]
    if persona != "anonymous":
        urls += ["/api/notifications", "/api/users/me/following"]
    for url in urls:
        text = caller.get(url).get_data(as_text=True)
        assert PRIVATE_TEXT not in text and world["private_thumbnail"] not in text, url
