"""Follows, likes and comments through the HTTP API, with their counters and notifications."""

from __future__ import annotations

import pytest
from factories import (
    count_queries,
    count_rows,
    create_artist,
    create_comment,
    create_follow,
    create_generation,
    create_style,
    create_user,
    fetch,
    seeded,
)

from stylelicense.community.models import Comment, Follow, Like
from stylelicense.generations.models import Generation
from stylelicense.notifications.models import Notification
from stylelicense.users.models import Artist, User


def error_code(response):
    return response.get_json()["error"]["code"]


@pytest.fixture
def world(app):
    """An artist (``painter``) with a completed style, a fan, and images of the fan: public, private,
    still running."""
    with seeded(app):
        painter = create_artist("painter", "Paula Painter")
        style = create_style(painter, title="Watercolor Dreams", tags=["watercolor"])
        fan = create_user("fan")
        other = create_user("other")
        public = create_generation(fan, style, is_public=True)
        private = create_generation(fan, style, is_public=False)
        running = create_generation(fan, style, is_public=True, status="processing")
        return {
            "painter": painter.id,
            "artist_id": painter.artist.id,
            "style": style.id,
            "fan": fan.id,
            "other": other.id,
            "public": public.id,
            "private": private.id,
            "running": running.id,
        }


# --- follows -------------------------------------------------------------------------------------


def test_follow_unfollow_counts_notifies_and_lists(app, client, login, world):
    login(client, "fan")
    response = client.post(f"/api/users/{world['painter']}/follow")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"] == {"following": True, "follower_count": 1}
    assert fetch(app, Artist, world["artist_id"], "follower_count") == 1
    assert (
        count_rows(
            app,
            Notification,
            Notification.recipient_id == world["painter"],
            Notification.type == "follow",
            Notification.actor_id == world["fan"],
        )
        == 1
    )

    listed = client.get("/api/users/me/following").get_json()["data"]
    assert [card["id"] for card in listed["results"]] == [world["painter"]]
    card = listed["results"][0]
    assert card["artist"] == {"id": world["artist_id"], "artist_name": "Paula Painter", "follower_count": 1}
    assert card["style"]["id"] == world["style"] and card["style"]["title"] == "Watercolor Dreams"
    assert "watercolor" in card["style"]["tags"] and card["is_following"] is True and card["followed_at"]

    response = client.delete(f"/api/users/{world['painter']}/follow")
    assert response.status_code == 200 and response.get_json()["data"] == {"following": False, "follower_count": 0}
    assert fetch(app, Artist, world["artist_id"], "follower_count") == 0
    assert client.get("/api/users/me/following").get_json()["data"]["results"] == []

    # Following again works but does not notify the artist a second time.
    assert client.post(f"/api/users/{world['painter']}/follow").status_code == 201
    assert count_rows(app, Notification, Notification.recipient_id == world["painter"]) == 1


def test_unfollow_when_not_following_is_404(client, login, world):
    login(client, "fan")
    response = client.delete(f"/api/users/{world['painter']}/follow")
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_following_list_pages_with_a_cursor_and_shows_only_completed_styles(app, client, login):
    with seeded(app):
        fan = create_user("fan")
        artists = []
        for i in range(5):
            artist = create_artist(f"artist{i}")
            create_style(artist, title=f"Style {i}", status="completed" if i % 2 == 0 else "training")
            create_follow(fan, artist)
            artists.append(artist.id)
    login(client, "fan")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/users/me/following", query_string=params)
        data = page.get_json()["data"]
        assert len(data["results"]) <= 2
        seen.extend(data["results"])
        if not data["has_more"]:
            break
        cursor = data["next_cursor"]
    assert [card["id"] for card in seen] == list(reversed(artists))  # most recently followed first
    for card in seen:
        index = artists.index(card["id"])
        assert (card["style"] is not None) == (index % 2 == 0)


def test_following_list_hides_deactivated_artists(app, client, login):
    with seeded(app):
        fan = create_user("fan")
        gone = create_artist("gone")
        create_follow(fan, gone)
        gone.is_active = False
    login(client, "fan")
    assert client.get("/api/users/me/following").get_json()["data"]["results"] == []


# --- likes ---------------------------------------------------------------------------------------


def test_like_and_unlike_keep_the_counter_equal_to_rows_and_notify_the_owner_once(app, client, login, world):
    login(client, "other")
    response = client.post(f"/api/generations/{world['public']}/like")
    assert response.status_code == 201 and response.get_json()["data"] == {"liked": True, "like_count": 1}
    assert fetch(app, Generation, world["public"], "like_count") == 1
    assert count_rows(app, Like, Like.generation_id == world["public"]) == 1

    response = client.delete(f"/api/generations/{world['public']}/like")
    assert response.status_code == 200 and response.get_json()["data"] == {"liked": False, "like_count": 0}
    assert fetch(app, Generation, world["public"], "like_count") == 0
    assert client.delete(f"/api/generations/{world['public']}/like").status_code == 404

    assert client.post(f"/api/generations/{world['public']}/like").status_code == 201
    notes = count_rows(app, Notification, Notification.recipient_id == world["fan"], Notification.type == "like")
    assert notes == 1  # like, unlike, like again: the owner hears about it once


def test_liking_your_own_public_image_counts_but_does_not_notify(app, client, login, world):
    login(client, "fan")
    assert client.post(f"/api/generations/{world['public']}/like").get_json()["data"]["like_count"] == 1
    assert count_rows(app, Notification) == 0


def test_like_of_private_or_unfinished_images(app, client, login, world):
    login(client, "other")
    for generation in (world["private"], world["running"], 999999):
        response = client.post(f"/api/generations/{generation}/like")
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert client.delete(f"/api/generations/{generation}/like").status_code == 404
    login(client, "fan")  # the owner sees the private image but it cannot be liked
    response = client.post(f"/api/generations/{world['private']}/like")
    assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"
    assert count_rows(app, Like) == 0 and fetch(app, Generation, world["private"], "like_count") == 0


# --- comments ------------------------------------------------------------------------------------


def test_comment_body_is_trimmed_and_stripped_of_html(client, login, world):
    login(client, "other")
    response = client.post(
        f"/api/generations/{world['public']}/comments",
        json={"body": "  <b>Lovely</b> colours <script>alert(1)</script>&amp; light  "},
    )
    assert response.status_code == 201, response.get_json()
    comment = response.get_json()["data"]
    assert comment["body"] == "Lovely colours & light"
    assert comment["author"]["username"] == "other" and comment["parent_id"] is None
    assert comment["replies"] == [] and comment["is_deleted"] is False and comment["is_mine"] is True


@pytest.mark.parametrize("length,status", [(1, 201), (1000, 201), (1001, 422)])
def test_comment_length_limits(app, client, login, world, length, status):
    login(client, "other")
    response = client.post(f"/api/generations/{world['public']}/comments", json={"body": "x" * length})
    assert response.status_code == status
    assert count_rows(app, Comment) == (1 if status == 201 else 0)
    assert fetch(app, Generation, world["public"], "comment_count") == (1 if status == 201 else 0)


def test_comment_thread_replies_counts_and_order(app, client, login, make_client, world):
    fan, other, painter = client, make_client(), make_client()
    login(fan, "fan")
    login(other, "other")
    login(painter, "painter")
    url = f"/api/generations/{world['public']}/comments"
    first = other.post(url, json={"body": "first"}).get_json()["data"]
    second = painter.post(url, json={"body": "second"}).get_json()["data"]
    reply1 = fan.post(url, json={"body": "thanks!", "parent_id": first["id"]}).get_json()["data"]
    reply2 = painter.post(url, json={"body": "agreed", "parent_id": first["id"]}).get_json()["data"]
    assert reply1["parent_id"] == first["id"] and "replies" not in reply1

    data = client.get(url).get_json()["data"]
    assert [c["id"] for c in data["results"]] == [second["id"], first["id"]]  # newest first
    assert [r["id"] for r in data["results"][1]["replies"]] == [reply1["id"], reply2["id"]]  # oldest first
    assert fetch(app, Generation, world["public"], "comment_count") == 4

    page1 = client.get(url, query_string={"limit": 1}).get_json()["data"]
    page2 = client.get(url, query_string={"limit": 1, "cursor": page1["next_cursor"]}).get_json()["data"]
    assert [c["id"] for c in page1["results"] + page2["results"]] == [second["id"], first["id"]]
    assert page2["has_more"] is False

    anonymous = make_client()
    listed = anonymous.get(url).get_json()["data"]["results"]
    assert listed[0]["is_mine"] is False and listed[1]["replies"][0]["author"]["username"] == "fan"


def test_reply_to_a_reply_or_to_another_image_is_refused(app, client, login, world):
    with seeded(app):
        from stylelicense.extensions import db

        public = db.session.get(Generation, world["public"])
        fan = db.session.get(User, world["fan"])
        top = create_comment(fan, public, "top")
        reply = create_comment(fan, public, "reply", parent=top)
        elsewhere = create_generation(fan, public.style, is_public=True)
        foreign = create_comment(fan, elsewhere, "elsewhere")
        ids = {"top": top.id, "reply": reply.id, "foreign": foreign.id}
    login(client, "other")
    url = f"/api/generations/{world['public']}/comments"
    before = count_rows(app, Comment)
    response = client.post(url, json={"body": "deeper", "parent_id": ids["reply"]})
    assert response.status_code == 422 and error_code(response) == "REPLY_DEPTH_EXCEEDED"
    for parent in (ids["foreign"], 999999):
        response = client.post(url, json={"body": "lost", "parent_id": parent})
        assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"
    assert count_rows(app, Comment) == before
    assert fetch(app, Generation, world["public"], "comment_count") == 2
    assert count_rows(app, Notification) == 0


@pytest.mark.parametrize("body", ["", "   ", "<p></p>", "<script>only()</script>"])
def test_empty_comments_are_refused(app, client, login, world, body):
    login(client, "other")
    response = client.post(f"/api/generations/{world['public']}/comments", json={"body": body})
    assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"
    assert count_rows(app, Comment) == 0 and count_rows(app, Notification) == 0


def test_comments_on_private_images(app, client, login, make_client, world):
    url = f"/api/generations/{world['private']}/comments"
    login(client, "other")
    assert client.get(url).status_code == 404
    response = client.post(url, json={"body": "let me in"})
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
    assert make_client().get(url).status_code == 404
    assert count_rows(app, Comment) == 0

    owner = make_client()
    login(owner, "fan")  # the owner may keep notes on their own private image
    assert owner.post(url, json={"body": "note to self"}).status_code == 201
    assert [c["body"] for c in owner.get(url).get_json()["data"]["results"]] == ["note to self"]
    assert count_rows(app, Notification) == 0


def test_comment_notifications_go_to_owner_and_parent_author_once_never_to_self(app, client, login, make_client, world):
    fan, other, painter = client, make_client(), make_client()
    login(fan, "fan")
    login(other, "other")
    login(painter, "painter")
    url = f"/api/generations/{world['public']}/comments"

    top = other.post(url, json={"body": "top"}).get_json()["data"]  # → fan (owner)
    painter.post(url, json={"body": "reply", "parent_id": top["id"]})  # → fan and other
    fan.post(url, json={"body": "own reply", "parent_id": top["id"]})  # → other only (not fan)
    own_top = fan.post(url, json={"body": "mine"}).get_json()["data"]  # → nobody
    fan.post(url, json={"body": "me again", "parent_id": own_top["id"]})  # owner = parent author = self

    def received(user_id):
        return count_rows(app, Notification, Notification.recipient_id == user_id, Notification.type == "comment")

    assert received(world["fan"]) == 2
    assert received(world["other"]) == 2
    assert received(world["painter"]) == 0


def test_edit_comment_author_only(app, client, login, make_client, world):
    login(client, "other")
    url = f"/api/generations/{world['public']}/comments"
    comment = client.post(url, json={"body": "draft"}).get_json()["data"]
    response = client.patch(f"/api/comments/{comment['id']}", json={"body": " <i>final</i> "})
    assert response.status_code == 200 and response.get_json()["data"]["body"] == "final"

    intruder = make_client()
    login(intruder, "painter")
    response = intruder.patch(f"/api/comments/{comment['id']}", json={"body": "hacked"})
    assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert intruder.delete(f"/api/comments/{comment['id']}").status_code == 403
    response = client.patch(f"/api/comments/{comment['id']}", json={"body": "   "})
    assert response.status_code == 422
    assert fetch(app, Comment, comment["id"], "body") == "final"
    assert client.patch("/api/comments/999999", json={"body": "x"}).status_code == 404


def test_delete_comment_with_replies_keeps_thread_and_counts(app, client, login, make_client, world):
    author, replier = client, make_client()
    login(author, "other")
    login(replier, "painter")
    url = f"/api/generations/{world['public']}/comments"
    top = author.post(url, json={"body": "top secret"}).get_json()["data"]
    reply = replier.post(url, json={"body": "a reply", "parent_id": top["id"]}).get_json()["data"]
    lonely = author.post(url, json={"body": "lonely"}).get_json()["data"]
    assert fetch(app, Generation, world["public"], "comment_count") == 3

    response = author.delete(f"/api/comments/{top['id']}")
    assert response.status_code == 200 and response.get_json()["data"]["kept_as_placeholder"] is True
    response = author.delete(f"/api/comments/{lonely['id']}")
    assert response.get_json()["data"] == {
        "id": lonely["id"],
        "deleted": True,
        "kept_as_placeholder": False,
        "comment_count": 1,
    }
    listed = client.get(url).get_json()["data"]["results"]
    assert [c["id"] for c in listed] == [top["id"]]
    assert listed[0]["is_deleted"] is True and listed[0]["body"] == "" and listed[0]["author"] is None
    assert [r["body"] for r in listed[0]["replies"]] == ["a reply"]
    assert fetch(app, Generation, world["public"], "comment_count") == 1
    assert fetch(app, Comment, top["id"], "body") == ""  # the text is really gone
    # Once deleted it cannot be edited or deleted again.
    assert author.patch(f"/api/comments/{top['id']}", json={"body": "back"}).status_code == 404
    assert author.delete(f"/api/comments/{top['id']}").status_code == 404

    # The last reply goes: the placeholder has nothing left to hold and goes too.
    assert replier.delete(f"/api/comments/{reply['id']}").status_code == 200
    assert client.get(url).get_json()["data"]["results"] == []
    assert count_rows(app, Comment) == 0
    assert fetch(app, Generation, world["public"], "comment_count") == 0
    # Notifications about deleted comments are removed with them.
    assert count_rows(app, Notification, Notification.type == "comment") == 0


def test_comments_of_an_image_made_private_are_out_of_reach_of_others(app, client, login, world):
    login(client, "other")
    url = f"/api/generations/{world['public']}/comments"
    comment = client.post(url, json={"body": "seen while public"}).get_json()["data"]
    with seeded(app):
        from stylelicense.extensions import db

        db.session.get(Generation, world["public"]).is_public = False
    assert client.patch(f"/api/comments/{comment['id']}", json={"body": "x"}).status_code == 404
    assert client.delete(f"/api/comments/{comment['id']}").status_code == 404
    assert client.get(url).status_code == 404
    assert count_rows(app, Comment) == 1


def test_follow_rules(app, client, login, world):
    login(client, "fan")
    with seeded(app):
        gone = create_artist("gone")
        gone.is_active = False
        gone_id = gone.id
    cases = [
        (world["fan"], 400, "SELF_FOLLOW_NOT_ALLOWED"),
        (world["other"], 404, "NOT_FOUND"),  # not an artist
        (gone_id, 404, "NOT_FOUND"),  # deactivated artist
        (999999, 404, "NOT_FOUND"),
    ]
    for user_id, status, code in cases:
        response = client.post(f"/api/users/{user_id}/follow")
        assert (response.status_code, error_code(response)) == (status, code), user_id
    assert count_rows(app, Follow) == 0 and count_rows(app, Notification) == 0

    artist_client = client
    login(artist_client, "painter")
    response = artist_client.post(f"/api/users/{world['painter']}/follow")
    assert response.status_code == 400 and error_code(response) == "SELF_FOLLOW_NOT_ALLOWED"

    login(client, "fan")
    assert client.post(f"/api/users/{world['painter']}/follow").status_code == 201
    response = client.post(f"/api/users/{world['painter']}/follow")
    assert response.status_code == 409 and error_code(response) == "DUPLICATE_FOLLOW"
    assert count_rows(app, Follow) == 1 and fetch(app, Artist, world["artist_id"], "follower_count") == 1
    assert count_rows(app, Notification) == 1


def test_duplicate_like_is_409_and_writes_nothing(app, client, login, world):
    login(client, "other")
    assert client.post(f"/api/generations/{world['public']}/like").status_code == 201
    response = client.post(f"/api/generations/{world['public']}/like")
    assert response.status_code == 409 and error_code(response) == "CONFLICT"
    assert response.get_json()["error"]["details"] == {"liked": True, "like_count": 1}
    assert count_rows(app, Like) == 1 and fetch(app, Generation, world["public"], "like_count") == 1
    assert count_rows(app, Notification) == 1


def test_unknown_ids_are_404_and_write_nothing(app, client, login, world):
    login(client, "other")
    for method, url, body in [
        ("post", "/api/users/999999/follow", None),
        ("delete", "/api/users/999999/follow", None),
        ("post", "/api/generations/999999/like", None),
        ("delete", "/api/generations/999999/like", None),
        ("get", "/api/generations/999999/comments", None),
        ("post", "/api/generations/999999/comments", {"body": "hello"}),
        ("patch", "/api/comments/999999", {"body": "hello"}),
        ("delete", "/api/comments/999999", None),
        ("patch", "/api/notifications/999999/read", None),
    ]:
        response = getattr(client, method)(url, **({"json": body} if body else {}))
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND", (method, url)
    for model in (Follow, Like, Comment, Notification):
        assert count_rows(app, model) == 0


def test_bad_input_shapes_are_422(app, client, login, world):
    login(client, "other")
    url = f"/api/generations/{world['public']}/comments"
    for body in ({}, {"body": 5}, {"body": "ok", "parent_id": "x"}, {"body": "ok", "extra": 1}, {"body": "y" * 10_001}):
        response = client.post(url, json=body)
        assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR", body
    assert client.get(url, query_string={"limit": 0}).status_code == 422
    assert client.get(url, query_string={"cursor": "garbage"}).status_code == 422
    assert count_rows(app, Comment) == 0


def test_listing_comments_uses_a_fixed_number_of_queries(app, client):
    """Authors are loaded with the comments, not one query per comment."""
    with seeded(app):
        generation = create_generation()
        for i in range(15):
            top = create_comment(create_user(f"writer{i}"), generation, f"comment {i}")
            for j in range(2):
                create_comment(create_user(f"replier{i}x{j}"), generation, "reply", parent=top)
        generation_id = generation.id
    with count_queries(app) as statements:
        response = client.get(f"/api/generations/{generation_id}/comments", query_string={"limit": 15})
    data = response.get_json()["data"]
    assert len(data["results"]) == 15 and all(len(c["replies"]) == 2 for c in data["results"])
    assert all(c["author"]["username"].startswith("writer") for c in data["results"])
    assert len(statements) <= 8, len(statements)
