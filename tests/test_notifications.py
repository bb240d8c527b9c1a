"""Notifications: list (cursor, unread count, targets the SPA can link), read one, read all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import (
    count_queries,
    count_rows,
    create_artist,
    create_comment,
    create_generation,
    create_notification,
    create_style,
    create_user,
    fetch,
    seeded,
)

from stylelicense.extensions import db
from stylelicense.notifications.models import Notification
from stylelicense.notifications.operations import notify


def _data(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


@pytest.fixture
def inbox(app):
    """``owner`` has one notification of every kind (oldest first in this list)."""
    with seeded(app):
        owner = create_artist("owner", "Olga Owner")
        fan = create_user("fan", profile_image_key="profiles/fan.png")
        style = create_style(owner, title="Ink Storm")
        generation = create_generation(owner, style, is_public=True)
        comment = create_comment(fan, generation, "What a wonderful storm of ink, " * 5)
        made = [
            create_notification(
                owner, "style_training_complete", target_type="style", target_id=style.id, age=timedelta(minutes=6)
            ),
            create_notification(
                owner,
                "generation_complete",
                target_type="generation",
                target_id=generation.id,
                age=timedelta(minutes=5),
            ),
            create_notification(
                owner, "follow", target_type="user", target_id=fan.id, actor=fan, age=timedelta(minutes=4)
            ),
            create_notification(
                owner,
                "like",
                target_type="generation",
                target_id=generation.id,
                actor=fan,
                age=timedelta(minutes=3),
                is_read=True,
            ),
            create_notification(
                owner, "comment", target_type="comment", target_id=comment.id, actor=fan, age=timedelta(minutes=2)
            ),
        ]
        create_notification(fan, "like", target_type="generation", target_id=generation.id, actor=owner)
        return {
            "owner": owner.id,
            "fan": fan.id,
            "style": style.id,
            "generation": generation.id,
            "comment": comment.id,
            "ids": [n.id for n in made],
        }


def test_list_newest_first_with_actor_target_and_unread_count(client, login, inbox):
    login(client, "owner")
    data = _data(client.get("/api/notifications"))
    assert [n["id"] for n in data["results"]] == list(reversed(inbox["ids"]))
    assert data["unread_count"] == 4 and data["has_more"] is False and data["next_cursor"] is None
    by_type = {n["type"]: n for n in data["results"]}

    comment = by_type["comment"]
    assert comment["actor"] == {
        "id": inbox["fan"],
        "username": "fan",
        "profile_image_url": comment["actor"]["profile_image_url"],
    }
    assert comment["actor"]["profile_image_url"].endswith("profiles/fan.png")
    assert comment["target_type"] == "comment" and comment["target_id"] == inbox["comment"]
    assert comment["target"]["generation_id"] == inbox["generation"] and comment["target"]["is_reply"] is False
    assert comment["target"]["excerpt"].startswith("What a wonderful storm") and len(comment["target"]["excerpt"]) <= 80
    assert comment["target"]["generation_thumbnail_url"]

    like = by_type["like"]
    assert like["is_read"] is True and like["target"]["id"] == inbox["generation"]
    assert like["target"]["style"] == {"id": inbox["style"], "title": "Ink Storm"} and like["target"]["thumbnail_url"]

    assert by_type["follow"]["target"]["username"] == "fan" and by_type["follow"]["target_id"] == inbox["fan"]
    system = by_type["style_training_complete"]
    assert system["actor"] is None
    assert system["target"] == {
        "id": inbox["style"],
        "title": "Ink Storm",
        "thumbnail_url": system["target"]["thumbnail_url"],
        "training_status": "completed",
    }
    assert by_type["generation_complete"]["target"]["status"] == "completed"
    for item in data["results"]:
        assert set(item) == {"id", "type", "actor", "target_type", "target_id", "target", "is_read", "created_at"}


def test_cursor_pages_and_unread_only(client, login, inbox):
    login(client, "owner")
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        data = _data(client.get("/api/notifications", query_string=params))
        seen += [n["id"] for n in data["results"]]
        cursor = data["next_cursor"]
        if not data["has_more"]:
            break
    assert seen == list(reversed(inbox["ids"]))
    unread = _data(client.get("/api/notifications", query_string={"unread_only": "true"}))
    assert len(unread["results"]) == 4 and all(not n["is_read"] for n in unread["results"])


def test_mark_one_read_and_all_read(app, client, login, make_client, inbox):
    login(client, "owner")
    target = inbox["ids"][0]
    data = _data(client.patch(f"/api/notifications/{target}/read"))
    assert data["id"] == target and data["is_read"] is True and data["unread_count"] == 3
    assert _data(client.patch(f"/api/notifications/{target}/read"))["unread_count"] == 3  # idempotent

    stranger = make_client()
    login(stranger, "fan")
    response = stranger.patch(f"/api/notifications/{inbox['ids'][1]}/read")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    assert fetch(app, Notification, inbox["ids"][1], "is_read") is False
    assert _data(stranger.post("/api/notifications/read-all")) == {"updated": 1, "unread_count": 0}
    assert _data(client.get("/api/notifications"))["unread_count"] == 3  # the fan's read-all is theirs only

    assert _data(client.get("/api/notifications/unread-count")) == {"unread_count": 3}
    assert _data(stranger.get("/api/notifications/unread-count")) == {"unread_count": 0}
    assert _data(client.post("/api/notifications/read-all")) == {"updated": 3, "unread_count": 0}
    assert _data(client.get("/api/notifications/unread-count")) == {"unread_count": 0}
    assert (
        count_rows(app, Notification, Notification.recipient_id == inbox["owner"], Notification.is_read.is_(False)) == 0
    )


def test_targets_that_are_gone_or_private_are_null(app, client, login, inbox):
    with seeded(app):
        from stylelicense.community.models import Comment
        from stylelicense.generations.models import Generation
        from stylelicense.users.models import User

        fan = db.session.get(User, inbox["fan"])
        owner = db.session.get(User, inbox["owner"])
        generation = db.session.get(Generation, inbox["generation"])
        # The fan was told about a reply on the owner's image; then the owner made it private.
        reply = create_comment(owner, generation, "reply", parent=db.session.get(Comment, inbox["comment"]))
        create_notification(fan, "comment", target_type="comment", target_id=reply.id, actor=owner)
        generation.is_public = False
        create_notification(fan, "generation_failed", target_type="generation", target_id=987654)
    login(client, "fan")
    items = {n["type"]: n for n in _data(client.get("/api/notifications"))["results"]}
    assert items["comment"]["target"] is None  # the image is private now: no excerpt, no thumbnail
    assert items["like"]["target"] is None
    assert items["generation_failed"]["target"] is None and items["generation_failed"]["target_id"] == 987654
    login(client, "owner")  # the owner still sees their own private image
    owner_items = {n["type"]: n for n in _data(client.get("/api/notifications"))["results"]}
    assert owner_items["like"]["target"]["is_public"] is False


def test_notify_rules(app, inbox):
    with app.app_context():
        assert notify(inbox["owner"], "like", target_type="generation", target_id=1, actor_id=inbox["owner"]) is None
        first = notify(inbox["fan"], "generation_complete", target_type="generation", target_id=1, dedupe_key="k:1")
        again = notify(inbox["fan"], "generation_complete", target_type="generation", target_id=1, dedupe_key="k:1")
        assert first is again
        with pytest.raises(ValueError):
            notify(inbox["fan"], "poke", target_type="user", target_id=1)
        db.session.commit()
    assert count_rows(app, Notification, Notification.recipient_id == inbox["fan"]) == 2


def test_listing_uses_a_fixed_number_of_queries(app, client, login):
    """Targets and actors are loaded in batches, not one query per notification."""
    with seeded(app):
        owner = create_user("owner")
        style = create_style()
        for i in range(30):
            fan = create_user(f"fan{i}")
            generation = create_generation(owner, style)
            comment = create_comment(fan, generation, f"comment {i}")
            create_notification(owner, "comment", target_type="comment", target_id=comment.id, actor=fan)
            create_notification(owner, "like", target_type="generation", target_id=generation.id, actor=fan)
    login(client, "owner")
    with count_queries(app) as statements:
        data = _data(client.get("/api/notifications", query_string={"limit": 60}))
    assert len(data["results"]) == 60 and all(n["target"] and n["actor"] for n in data["results"])
    assert len(statements) <= 10, len(statements)


def test_the_badge_poll_is_one_count_and_needs_a_login(app, client, login, make_client, inbox):
    assert make_client().get("/api/notifications/unread-count").status_code == 401
    login(client, "owner")
    with count_queries(app) as statements:
        assert _data(client.get("/api/notifications/unread-count")) == {"unread_count": 4}
    assert len(statements) <= 2, statements  # the session's user and the count
