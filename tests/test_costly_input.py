"""Costly input (issue 16): a file of a few kB that decodes to tens of megapixels is refused from its
header, before anything is decoded, on every upload path (profile image, signature, style images,
anonymous verify), with INVALID_IMAGE_FORMAT and a message that names the pixel cap. Style creation
probes all its files before decoding the first one, and stores nothing when one is refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from stylelicense import images, limits
from stylelicense.extensions import db
from stylelicense.users.models import Artist, User
from tests.test_styles_helpers import (
    image_bytes,
    post_style,
    queued_training_jobs,
    row_counts,
    stored_files,
    upload_images,
)
from tests.test_validation import assert_error, patch_picture, upgrade


def _state(app):
    """What a refused upload must not change: users (picture keys), artists, stored files."""
    with app.app_context():
        users = db.session.execute(select(User.id, User.profile_image_key, User.role).order_by(User.id)).all()
        artists = db.session.scalar(select(func.count()).select_from(Artist))
        db.session.remove()
    return [tuple(u) for u in users], artists, stored_files(app)


def _png(width: int, height: int, mode: str = "1") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 0).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """8000×5000 one colour: 40 megapixels in a few kB."""
    data = _png(8000, 5000)
    assert len(data) < 20_000
    return data


def _refused_for_pixels(response, field: str, cap: int):
    assert_error(response, 422, "INVALID_IMAGE_FORMAT", field)
    error = response.get_json()["error"]
    assert error["details"]["reason"] == "too_many_pixels"
    assert error["details"]["max_pixels"] == cap
    assert f"{cap:,}" in error["message"]  # the user is told the limit
    return error


def test_caps_are_far_below_a_bomb_and_published(client):
    assert images.MAX_PROFILE_IMAGE_PIXELS == images.MAX_SIGNATURE_PIXELS == 4_000_000
    assert images.MAX_STYLE_IMAGE_PIXELS == images.MAX_VERIFY_PIXELS == 16_000_000
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS == 16_000_000  # Pillow refuses above 2× this itself
    published = client.get("/api/config").get_json()["data"]["limits"]
    assert published == limits.limits()
    assert (
        published["max_profile_image_pixels"],
        published["max_signature_pixels"],
        published["max_image_pixels"],
        published["max_verify_pixels"],
    ) == (4_000_000, 4_000_000, 16_000_000, 16_000_000)


def test_bomb_profile_image_and_signature_are_refused(app, client, login, bomb):
    login(client, "bomber")
    before = _state(app)
    _refused_for_pixels(patch_picture(client, io.BytesIO(bomb), "me.png"), "profile_image", 4_000_000)
    _refused_for_pixels(upgrade(client, io.BytesIO(bomb), "sig.png"), "signature_image", 4_000_000)
    assert _state(app) == before


def test_over_the_cap_is_refused_from_the_header_with_its_size(app, client, login):
    """6 megapixels: below Pillow's own refusal, above the avatar cap; the header's size is reported."""
    login(client, "sixmega")
    before = _state(app)
    over = _png(3000, 2000)
    error = _refused_for_pixels(patch_picture(client, io.BytesIO(over), "me.png"), "profile_image", 4_000_000)
    assert (error["details"]["width"], error["details"]["height"]) == (3000, 2000)
    assert "3000×2000" in error["message"]
    _refused_for_pixels(upgrade(client, io.BytesIO(over), "sig.png"), "signature_image", 4_000_000)
    assert _state(app) == before


def test_bomb_is_refused_by_anonymous_verify(client, bomb):
    response = client.post(
        "/api/verify", data={"image": (io.BytesIO(bomb), "copy.png")}, content_type="multipart/form-data"
    )
    _refused_for_pixels(response, "image", 16_000_000)


def test_normal_images_are_still_accepted(client, login):
    login(client, "normal")
    photo = io.BytesIO(image_bytes(1600, 1200, fmt="JPEG", quality=90))
    assert patch_picture(client, photo, "me.jpg").status_code == 200
    assert upgrade(client, io.BytesIO(image_bytes(400, 120)), "sig.png").status_code in (200, 201)
    # A big JPEG (2560×2048) is decoded reduced and still verified (nothing of ours: "not found").
    big = image_bytes(2560, 2048, fmt="JPEG", quality=90)
    response = client.post(
        "/api/verify", data={"image": (io.BytesIO(big), "copy.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["verdict"] == "unknown"


def test_style_with_99_good_images_and_a_bomb_last_stores_nothing(app, client, make_artist, bomb):
    make_artist(client, "ninetynine")
    queued_training_jobs()
    files, rows = stored_files(app), row_counts(app)

    response = post_style(client, upload_images(99, width=512, height=512) + [bomb])

    error = _refused_for_pixels(response, "images[99]", 16_000_000)
    assert error["details"]["field"] == "images[99]"
    assert stored_files(app) == files
    assert row_counts(app) == rows
    assert queued_training_jobs() == []


def test_style_headers_are_all_probed_before_the_first_decode(app, client, make_artist, bomb):
    """The first file has a valid header but a broken body: only decoding it would notice. The bomb
    last is what is reported, so every header was read before the first image was decoded."""
    make_artist(client, "probefirst")
    broken = image_bytes(800, 800)
    broken = broken[: len(broken) // 2]
    with Image.open(io.BytesIO(broken)) as header:  # the header alone is fine
        assert header.size == (800, 800)
    files, rows = stored_files(app), row_counts(app)

    response = post_style(client, [broken] + upload_images(8) + [bomb])

    _refused_for_pixels(response, "images[9]", 16_000_000)
    assert stored_files(app) == files and row_counts(app) == rows


def test_a_style_of_normal_images_is_still_created(client, make_artist):
    make_artist(client, "stillworks")
    assert post_style(client).status_code == 201
