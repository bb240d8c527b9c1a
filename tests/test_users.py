"""Users: public profiles, profile edits, becoming an artist, and leaving (SPEC §4.1)."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select

from stylelicense.community.models import Like
from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.storage import get_storage
from stylelicense.styles.models import Artwork, Style
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import Artist, User
from tests import factories
from tests.factories import count_rows, seeded

# --- helpers: rows other features would create (tests/factories.py), committed in short-lived app contexts --


def add(app, *rows) -> list[int]:
    with seeded(app) as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def value(app, column, *where):
    with app.app_context():
        return db.session.scalar(select(column).where(*where))


def make_style(app, artist_id: int, *, status: str = "completed", title: str = "Ink wash") -> int:
    with seeded(app) as session:
        return factories.create_style(
            session.get(Artist, artist_id),
            title=title,
            status=status,
            generation_cost_tokens=5,
            thumbnail_key=f"styles/{title}/thumb.jpg",
        ).id


def make_generation(app, user_id: int, style_id: int, *, public: bool = True, status: str = "completed") -> int:
    with seeded(app) as session:
        return factories.create_generation(
            session.get(User, user_id),
            session.get(Style, style_id),
            is_public=public,
            status=status,
            seed=1,
            cost_tokens=5,
        ).id


def like(app, user_id: int, generation_id: int) -> None:
    with seeded(app) as session:
        factories.create_like(session.get(User, user_id), session.get(Generation, generation_id))


def follow(app, follower_id: int, artist_user_id: int) -> None:
    with seeded(app) as session:
        factories.create_follow(session.get(User, follower_id), session.get(User, artist_user_id))


def stored(app, key: str, *, public: bool) -> bool:
    with app.app_context():
        return get_storage().exists(key, public=public)


def image_file(png_bytes, width=800, height=400, fmt="PNG"):
    return BytesIO(png_bytes(width, height, fmt=fmt))


def transparent_png(width=300, height=120) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((20, 20, 20, 255), (10, 10, width - 10, height - 10))
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- public profile -----------------------------------------------------------------------------


def test_profile_of_a_plain_user(client, make_client, login):
    me = login(client, "ana")
    response = make_client().get(f"/api/users/{me['id']}")  # public: no login needed
    assert response.status_code == 200
    profile = response.get_json()["data"]
    assert profile["username"] == "ana" and profile["role"] == "user" and profile["bio"] == ""
    assert profile["stats"] == {"public_generations": 0, "likes_received": 0}
    assert profile["artist"] is None
    assert profile["created_at"].endswith("Z")
    assert "email" not in profile and "token_balance" not in profile  # private fields stay private


def test_profile_stats_count_public_work_only(app, client, make_client, login, make_artist):
    artist = make_artist(client, "inky")
    style_id = make_style(app, artist["artist"]["id"])
    fan = make_client()
    user = login(fan, "ben")
    public_1 = make_generation(app, user["id"], style_id)
    public_2 = make_generation(app, user["id"], style_id)
    private = make_generation(app, user["id"], style_id, public=False)
    make_generation(app, user["id"], style_id, public=True, status="processing")  # not finished: not shown
    others = [login(make_client(), f"fan{i}")["id"] for i in range(3)]
    like(app, others[0], public_1)
    like(app, others[1], public_1)
    like(app, others[2], public_2)
    like(app, others[0], private)  # a like on an image that is private now is not shown

    profile = make_client().get(f"/api/users/{user['id']}").get_json()["data"]
    assert profile["stats"] == {"public_generations": 2, "likes_received": 3}


def test_artist_profile_shows_artist_and_completed_style(app, client, make_client, login, make_artist):
    artist = make_artist(client, "mira", artist_name="Mira Kim")
    url = f"/api/users/{artist['id']}"
    assert make_client().get(url).get_json()["data"]["artist"] == {
        "id": artist["artist"]["id"],
        "artist_name": "Mira Kim",
        "follower_count": 0,
        "style": None,
    }

    style_id = make_style(app, artist["artist"]["id"], status="training")
    assert make_client().get(url).get_json()["data"]["artist"]["style"] is None  # not ready yet
    with app.app_context():
        db.session.get(Style, style_id).training_status = "completed"
        db.session.commit()
    follow(app, login(make_client(), "fan")["id"], artist["id"])

    data = make_client().get(url).get_json()["data"]
    assert data["role"] == "artist"
    assert data["artist"]["follower_count"] == 1
    assert data["artist"]["style"] == {
        "id": style_id,
        "title": "Ink wash",
        "generation_cost_tokens": 5,
        "generations_count": 0,
        "thumbnail_url": "/media/styles/Ink%20wash/thumb.jpg",
    }


def test_unknown_and_deactivated_profiles_are_not_found(app, client, login):
    me = login(client, "gone")
    assert client.get("/api/users/999999").status_code == 404
    with app.app_context():
        db.session.get(User, me["id"]).is_active = False
        db.session.commit()
    response = client.get(f"/api/users/{me['id']}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


# --- PATCH /api/users/me ------------------------------------------------------------------------


def test_edit_username_and_bio_with_json(client, make_client, login):
    me = login(client, "olduser")
    response = client.patch(
        "/api/users/me", json={"username": "New_Name", "bio": "<b>Hello</b> <script>x()</script>world &amp; more"}
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["username"] == "new_name"  # stored lowercase
    assert data["bio"] == "Hello world & more"  # markup (and script bodies) removed, text kept
    assert client.get("/api/auth/me").get_json()["data"]["bio"] == "Hello world & more"
    assert make_client().get(f"/api/users/{me['id']}").get_json()["data"]["username"] == "new_name"
    # Only the fields sent change.
    assert client.patch("/api/users/me", json={"bio": "a < b"}).get_json()["data"] == {**data, "bio": "a < b"}


def test_username_must_be_unique_ignoring_case(app, client, make_client, login):
    login(make_client(), "bob")
    me = login(client, "alice")
    response = client.patch("/api/users/me", json={"username": "BOB", "bio": "changed"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "CONFLICT"
    assert value(app, User.username, User.id == me["id"]) == "alice"
    assert value(app, User.bio, User.id == me["id"]) == ""  # nothing of the request was written
    # Keeping your own name is not a conflict.
    assert client.patch("/api/users/me", json={"username": "ALICE"}).status_code == 200


@pytest.mark.parametrize("username", ["ab", "a" * 31, "has space", "dash-name", "ünï", ""])
def test_invalid_usernames_are_refused(client, login, username):
    login(client, "valid_name")
    response = client.patch("/api/users/me", json={"username": username})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["fields"][0]["field"] == "username"
    assert client.get("/api/auth/me").get_json()["data"]["username"] == "valid_name"


def test_bio_longer_than_500_characters_is_refused(client, login):
    login(client, "writer")
    assert client.patch("/api/users/me", json={"bio": "x" * 501}).status_code == 422
    # Length is counted on the text, not on the markup around it.
    assert client.patch("/api/users/me", json={"bio": "<i>" + "x" * 500 + "</i>"}).status_code == 200


def test_profile_image_upload_is_resized_public_and_replaces_the_old_one(app, client, make_client, login, png_bytes):
    me = login(client, "pic")
    response = client.patch(
        "/api/users/me",
        data={"profile_image": (image_file(png_bytes, 2000, 1000), "../../etc/passwd.png"), "bio": "with a picture"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["bio"] == "with a picture"
    url = data["profile_image_url"]
    assert url.startswith("/media/profiles/") and "passwd" not in url  # random key, never the file name
    served = make_client().get(url)  # public: anyone can load it
    assert served.status_code == 200
    with Image.open(BytesIO(served.data)) as image:
        assert image.size == (512, 256) and image.format == "JPEG"
    first_key = value(app, User.profile_image_key, User.id == me["id"])
    assert stored(app, first_key, public=True)

    response = client.patch(
        "/api/users/me",
        data={"profile_image": (image_file(png_bytes, 100, 100), "b.png")},
        content_type="multipart/form-data",
    )
    second_key = value(app, User.profile_image_key, User.id == me["id"])
    assert response.status_code == 200 and second_key != first_key
    assert not stored(app, first_key, public=True)  # the replaced picture is gone
    with Image.open(BytesIO(make_client().get(response.get_json()["data"]["profile_image_url"]).data)) as image:
        assert image.size == (100, 100)  # small images are not enlarged

    response = client.patch("/api/users/me", json={"remove_profile_image": True})
    assert response.get_json()["data"]["profile_image_url"] is None
    assert not stored(app, second_key, public=True)


# --- upgrade to artist --------------------------------------------------------------------------


def test_upgrade_to_artist_stores_signature_privately_with_transparency(app, client, make_client, login):
    me = login(client, "painter")
    response = client.post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "  The <b>Painter</b> ",
            "contact_email": "Studio@Example.com",
            "signature_image": (BytesIO(transparent_png()), "sig.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["role"] == "artist"
    assert data["artist"]["artist_name"] == "The Painter"
    assert data["artist"]["earned_token_balance"] == 0 and data["artist"]["follower_count"] == 0

    with app.app_context():
        artist = db.session.scalar(select(Artist).where(Artist.user_id == me["id"]))
        key, contact = artist.signature_image_key, artist.contact_email
        signature = get_storage().get(key, public=False)
    assert contact == "studio@example.com"
    with Image.open(BytesIO(signature)) as image:
        assert image.format == "PNG" and image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0 and image.getpixel((150, 60))[3] == 255  # transparency kept
    assert not stored(app, key, public=True)
    assert make_client().get(f"/media/{key}").status_code == 404  # never served publicly
    assert make_client().get(f"/media/private/{key}").status_code == 403  # nor without a signed URL


def test_upgrading_twice_is_a_conflict(app, client, make_artist, png_bytes):
    make_artist(client, "twice")
    response = client.post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "Again",
            "contact_email": "a@example.com",
            "signature_image": (image_file(png_bytes), "s.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "CONFLICT"
    assert count_rows(app, Artist) == 1
    assert client.get("/api/auth/me").get_json()["data"]["artist"]["artist_name"] == "Twice"


def test_upgrade_requires_login(make_client, png_bytes):
    response = make_client().post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "Anon",
            "contact_email": "a@example.com",
            "signature_image": (image_file(png_bytes), "s.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 401


# --- DELETE /api/users/me -----------------------------------------------------------------------


def test_plain_user_is_deleted_with_their_data(app, client, make_client, login, make_artist, png_bytes):
    artist_client = make_client()
    artist = make_artist(artist_client, "host")
    style_id = make_style(app, artist["artist"]["id"])
    other = login(make_client(), "other")
    others_image = make_generation(app, other["id"], style_id)

    me = login(client, "leaver")
    client.patch(
        "/api/users/me", data={"profile_image": (image_file(png_bytes), "p.png")}, content_type="multipart/form-data"
    )
    picture = value(app, User.profile_image_key, User.id == me["id"])
    mine = make_generation(app, me["id"], style_id)
    like(app, me["id"], others_image)
    follow(app, me["id"], artist["id"])

    response = client.delete("/api/users/me")
    assert response.status_code == 200
    assert response.get_json()["data"] == {"result": "deleted"}
    assert client.get("/api/auth/me").status_code == 401  # signed out
    assert count_rows(app, User, User.id == me["id"]) == 0
    assert count_rows(app, Transaction, Transaction.user_id == me["id"]) == 0
    assert count_rows(app, Generation, Generation.id == mine) == 0
    assert count_rows(app, Like, Like.user_id == me["id"]) == 0
    assert not stored(app, picture, public=True)
    # Counters on other people's things follow.
    assert value(app, Generation.like_count, Generation.id == others_image) == 0
    assert value(app, Artist.follower_count, Artist.user_id == artist["id"]) == 0
    # Everyone else is untouched.
    assert count_rows(app, User) == 2 and count_rows(app, Style) == 1
    # Signing in again is a new account (with a new welcome bonus).
    client._csrf = None  # leaving cleared the session, and the CSRF token with it
    again = login(client, "leaver")
    assert again["id"] != me["id"] and again["token_balance"] == 100


def test_artist_whose_style_was_used_is_deactivated_not_deleted(app, client, make_client, login, make_artist):
    artist = make_artist(client, "famous")
    style_id = make_style(app, artist["artist"]["id"])
    buyer = login(make_client(), "buyer")
    generation_id = make_generation(app, buyer["id"], style_id)

    response = client.delete("/api/users/me")
    assert response.status_code == 200
    assert response.get_json()["data"] == {"result": "deactivated"}
    assert client.get("/api/auth/me").status_code == 401
    with app.app_context():
        user = db.session.get(User, artist["id"])
        assert user is not None and user.is_active is False and user.deactivated_at is not None
    # Styles and generation history stay for copyright tracing.
    assert count_rows(app, Style, Style.id == style_id) == 1
    assert count_rows(app, Generation, Generation.id == generation_id) == 1
    assert count_rows(app, Artist, Artist.user_id == artist["id"]) == 1
    # Profile hidden, login blocked.
    assert make_client().get(f"/api/users/{artist['id']}").status_code == 404
    client._csrf = None  # leaving cleared the session, and the CSRF token with it
    response = client.post("/api/auth/dev-login", json={"email": "famous@example.com", "username": "famous"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "ACCOUNT_DEACTIVATED"


def test_artist_whose_style_was_never_used_is_deleted_with_styles_and_artworks(app, client, make_artist):
    artist = make_artist(client, "unknown")
    style_id = make_style(app, artist["artist"]["id"])
    add(app, Artwork(style_id=style_id, image_key="art/1.png", training_key="art/1-512.png", width=512, height=512))
    signature = value(app, Artist.signature_image_key, Artist.user_id == artist["id"])
    assert stored(app, signature, public=False)

    response = client.delete("/api/users/me")
    assert response.get_json()["data"] == {"result": "deleted"}
    assert count_rows(app, User, User.id == artist["id"]) == 0
    assert count_rows(app, Artist) == 0 and count_rows(app, Style) == 0 and count_rows(app, Artwork) == 0
    assert not stored(app, signature, public=False)


def test_delete_requires_login_and_csrf(client, make_client, login):
    assert make_client().delete("/api/users/me").status_code == 401
    me = login(client, "careful")
    assert client.delete("/api/users/me", csrf=False).status_code == 403
    assert client.get("/api/auth/me").get_json()["data"]["id"] == me["id"]


def test_openapi_documents_the_users_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/api/users/{user_id}"])
    patch = paths["/api/users/me"]["patch"]["requestBody"]["content"]
    assert set(patch) == {"application/json", "multipart/form-data"}  # text edits, or with a picture
    assert patch["multipart/form-data"]["schema"]["properties"]["profile_image"]["format"] == "binary"
    upgrade = paths["/api/users/me/upgrade-to-artist"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"artist_name", "contact_email", "signature_image"} <= set(upgrade["schema"]["properties"])
    assert "delete" in paths["/api/users/me"]
    assert {"/api/auth/google/login", "/api/auth/google/callback", "/api/auth/csrf"} <= set(paths)
