"""Bad input on the accounts endpoints: the right status and code, and nothing written (no row
changed, no file stored)."""

from __future__ import annotations

import os
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import func, select

from stylelicense.config import ConfigError
from stylelicense.extensions import db
from stylelicense.storage import get_storage
from stylelicense.users.models import Artist, User
from tests.conftest import ApiClient, base_env


@pytest.fixture
def snapshot(app):
    """``snapshot()`` → everything these endpoints could write: users, artists, stored files."""

    def _take():
        with app.app_context():
            users = [
                tuple(row)
                for row in db.session.execute(
                    select(
                        User.id,
                        User.username,
                        User.bio,
                        User.profile_image_key,
                        User.role,
                        User.token_balance,
                        User.is_active,
                    ).order_by(User.id)
                )
            ]
            artists = db.session.scalar(select(func.count()).select_from(Artist))
            root = get_storage().root
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
        return users, artists, files

    return _take


@pytest.fixture
def signed_in(client, login, snapshot):
    login(client, "valid_user")
    return snapshot()


def assert_error(response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, (response.status_code, response.get_json())
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"] == code
    if field is not None:
        assert field in {f["field"] for f in body["error"]["details"].get("fields", [])} | {
            body["error"]["details"].get("field")
        }


def big_file(size: int) -> BytesIO:
    return BytesIO(b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8))


def image(fmt: str, size=(64, 64), mode="RGB") -> BytesIO:
    buffer = BytesIO()
    Image.new(mode, size, 128 if mode in ("1", "L", "P") else (10, 20, 30)).save(buffer, fmt)
    buffer.seek(0)
    return buffer


# --- JSON bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        ('{"bio": "x"', "application/json"),
        ('{"bio": "x"}', "text/plain"),
        ("", "application/json"),
    ],
)
def test_malformed_or_non_json_bodies_are_400(client, signed_in, snapshot, data, content_type):
    response = client.patch("/api/users/me", data=data, content_type=content_type)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert snapshot() == signed_in


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": 123}, "username"),
        ({"bio": ["a", "list"]}, "bio"),
        ({"bio": {"html": "<b>"}}, "bio"),
        ({"remove_profile_image": "perhaps"}, "remove_profile_image"),
        ({"token_balance": 100000}, "token_balance"),  # not editable: extra fields are refused
        ({"role": "artist"}, "role"),
        ({"is_active": False}, "is_active"),
        ({"profile_image_key": "../../etc/passwd"}, "profile_image_key"),
        ({"bio": "x" * 501}, "bio"),
        ({"username": "no"}, "username"),
    ],
)
def test_wrong_types_extra_fields_and_invalid_values_are_422(client, signed_in, snapshot, body, field):
    assert_error(client.patch("/api/users/me", json=body), 422, "VALIDATION_ERROR", field)
    assert snapshot() == signed_in


def test_a_json_array_is_not_an_object(client, signed_in, snapshot):
    assert_error(client.patch("/api/users/me", json=["bio"]), 422, "VALIDATION_ERROR")
    assert snapshot() == signed_in


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "a@example.com"}, "username"),
        ({"username": "someone"}, "email"),
        ({"email": "not-an-email", "username": "someone"}, "email"),
        ({"email": "a@example.com", "username": "someone", "role": "artist"}, "role"),
        ({"email": "a@example.com", "username": 42}, "username"),
    ],
)
def test_dev_login_validates_its_body(client, snapshot, body, field):
    before = snapshot()
    assert_error(client.post("/api/auth/dev-login", json=body), 422, "VALIDATION_ERROR", field)
    assert snapshot() == before
    assert client.get("/api/auth/me").status_code == 401


def test_oversized_json_body_is_413(client, signed_in, snapshot):
    response = client.patch("/api/users/me", json={"bio": "x" * 100_000})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot() == signed_in


def test_duplicate_username_is_409_and_nothing_changes(client, make_client, login, signed_in, snapshot):
    login(make_client(), "taken_name")
    before = snapshot()
    response = client.patch("/api/users/me", json={"username": "Taken_Name", "bio": "new bio"})
    assert_error(response, 409, "CONFLICT", "username")
    assert snapshot() == before


def test_dev_login_with_a_taken_username_is_409(client, make_client, login, snapshot):
    login(make_client(), "owner")
    before = snapshot()
    response = client.post("/api/auth/dev-login", json={"email": "other@example.com", "username": "OWNER"})
    assert_error(response, 409, "CONFLICT", "username")
    assert snapshot() == before


def test_unknown_ids_and_methods_use_the_envelope(client):
    assert_error(client.get("/api/users/not-a-number"), 404, "NOT_FOUND")
    assert_error(client.put("/api/users/me", json={}), 405, "METHOD_NOT_ALLOWED")


# --- uploads -------------------------------------------------------------------------------------


def patch_picture(client, file, name="me.png", **fields):
    return client.patch(
        "/api/users/me", data={"profile_image": (file, name), **fields}, content_type="multipart/form-data"
    )


def upgrade(client, signature=None, name="sig.png", **fields):
    data = {"artist_name": "Valid Artist", "contact_email": "studio@example.com", **fields}
    if signature is not None:
        data["signature_image"] = (signature, name)
    return client.post("/api/users/me/upgrade-to-artist", data=data, content_type="multipart/form-data")


def test_oversized_profile_image_is_413_and_nothing_is_stored(client, signed_in, snapshot):
    response = patch_picture(client, big_file(5 * 1024 * 1024 + 1), bio="should not be saved")
    assert_error(response, 413, "IMAGE_SIZE_EXCEEDED", "profile_image")
    assert snapshot() == signed_in


def test_oversized_signature_is_413_and_nothing_is_stored(client, signed_in, snapshot):
    assert_error(upgrade(client, big_file(6 * 1024 * 1024)), 413, "IMAGE_SIZE_EXCEEDED", "signature_image")
    assert snapshot() == signed_in


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: BytesIO(b"just some text, not an image"), "me.png"),
        (lambda: image("GIF"), "me.png"),
        (lambda: image("WEBP"), "me.webp"),
        (lambda: image("BMP"), "me.png"),
        (lambda: BytesIO(image("PNG").getvalue()[:60]), "me.png"),  # truncated
        (lambda: BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"), "me.svg"),
        (lambda: image("PNG", size=(10_000, 5_000), mode="1"), "bomb.png"),  # 50 megapixels, a few KB
        (lambda: BytesIO(b""), "empty.png"),
    ],
)
def test_non_images_are_refused_for_profile_and_signature(client, signed_in, snapshot, make, name):
    assert_error(patch_picture(client, make(), name), 422, "INVALID_IMAGE_FORMAT")
    assert_error(upgrade(client, make(), name), 422, "INVALID_IMAGE_FORMAT")
    assert snapshot() == signed_in


def test_signature_must_be_at_least_32_pixels(client, signed_in, snapshot):
    response = upgrade(client, image("PNG", size=(200, 31)))
    assert_error(response, 422, "INVALID_IMAGE_FORMAT", "signature_image")
    assert response.get_json()["error"]["details"]["reason"] == "too_small"
    assert snapshot() == signed_in


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"artist_name": ""}, "artist_name"),
        ({"artist_name": "x" * 51}, "artist_name"),
        ({"artist_name": "<b></b>"}, "artist_name"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"contact_email": ""}, "contact_email"),
        ({"role": "artist"}, "role"),
    ],
)
def test_upgrade_form_is_validated(client, signed_in, snapshot, fields, field):
    response = upgrade(client, image("PNG"), **fields)
    assert_error(response, 422, "VALIDATION_ERROR", field)
    assert snapshot() == signed_in


def test_upgrade_without_signature_is_422(client, signed_in, snapshot):
    assert_error(upgrade(client), 422, "VALIDATION_ERROR", "signature_image")
    assert snapshot() == signed_in


def test_upgrade_as_json_is_refused(client, signed_in, snapshot):
    response = client.post(
        "/api/users/me/upgrade-to-artist", json={"artist_name": "A", "contact_email": "a@example.com"}
    )
    assert_error(response, 422, "VALIDATION_ERROR", "artist_name")  # the form fields are not there
    assert snapshot() == signed_in


def test_multipart_profile_edit_refuses_extra_fields(client, signed_in, snapshot):
    response = patch_picture(client, image("PNG"), token_balance="5000")
    assert_error(response, 422, "VALIDATION_ERROR", "token_balance")
    assert snapshot() == signed_in


# --- dev login switched off ----------------------------------------------------------------------


def _app(tmp_path, database_url, **env):
    from stylelicense.app import create_app

    application = create_app(env=env or base_env(tmp_path, database_url))
    application.test_client_class = ApiClient
    return application


def test_dev_login_is_404_when_disabled(tmp_path, database_url, snapshot):
    app = _app(tmp_path, database_url, **base_env(tmp_path, database_url, STYLELICENSE_DEV_LOGIN="0"))
    before = snapshot()
    client = app.test_client()
    assert_error(
        client.post("/api/auth/dev-login", json={"email": "a@example.com", "username": "abc"}), 404, "NOT_FOUND"
    )
    assert snapshot() == before
    assert client.get("/api/config").get_json()["data"]["dev_login"] is False


def test_dev_login_is_404_in_production(tmp_path, database_url, snapshot):
    env = {
        "STYLELICENSE_ENV": "production",
        "SECRET_KEY": "prod-secret",
        "INTERNAL_API_TOKEN": "prod-token",
        "DATABASE_URL": database_url,
        "STORAGE_URL": (tmp_path / "storage").as_uri(),
        "CELERY_BROKER_URL": "memory://",
        "RATELIMIT_ENABLED": "0",
    }
    app = _app(tmp_path, database_url, **env)
    before = snapshot()
    client = app.test_client()
    # Production cookies are Secure: talk to it over https as a browser would.
    token = client.get("/api/auth/csrf", base_url="https://localhost").get_json()["data"]["csrf_token"]
    response = client.post(
        "/api/auth/dev-login",
        json={"email": "a@example.com", "username": "abc"},
        headers={"X-CSRFToken": token, "Referer": "https://localhost/"},
        base_url="https://localhost",
    )  # over https the CSRF check wants a same-site referrer
    assert_error(response, 404, "NOT_FOUND")
    assert "not enabled" in response.get_json()["error"]["message"]
    assert snapshot() == before


def test_production_with_dev_login_refuses_to_start(tmp_path, database_url):
    from stylelicense.app import create_app

    with pytest.raises(ConfigError, match="DEV_LOGIN"):
        create_app(
            env={
                "STYLELICENSE_ENV": "production",
                "SECRET_KEY": "s",
                "INTERNAL_API_TOKEN": "t",
                "DATABASE_URL": database_url,
                "STYLELICENSE_DEV_LOGIN": "1",
            }
        )
