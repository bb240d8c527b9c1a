"""POST /api/styles refuses bad uploads with the right status and SPEC code, and stores nothing:
no rows, no files, no queued job. The bad file is the last of the batch, so nine good images were
already checked when it is refused."""

from __future__ import annotations

import os
from io import BytesIO

import pytest
from PIL import Image

from tests.test_styles_helpers import (
    image_bytes,
    post_style,
    queued_training_jobs,
    row_counts,
    stored_files,
    upload_images,
)


def _gif() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (600, 600), (10, 200, 10)).save(buffer, "GIF")
    return buffer.getvalue()


def _truncated_jpeg() -> bytes:
    data = image_bytes(800, 800, (120, 30, 200), fmt="JPEG", quality=95)
    return data[: len(data) // 2]


def _bomb() -> bytes:
    """81 megapixels in a few kilobytes: decoding it would take hundreds of MB."""
    buffer = BytesIO()
    Image.new("1", (9000, 9000), 0).save(buffer, "PNG")
    data = buffer.getvalue()
    assert len(data) < 200_000
    return data


def _eleven_mb() -> bytes:
    """A real PNG of random pixels, just over 11 MB (random pixels do not compress)."""
    image = Image.frombytes("RGB", (1950, 1950), os.urandom(1950 * 1950 * 3))
    buffer = BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    data = buffer.getvalue()
    assert 11_000_000 < len(data) < 12_000_000  # 11 MB; the limit is 10 MiB
    return data


def _animated_png() -> bytes:
    frames = [Image.new("RGB", (600, 600), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _with_last(bad: bytes) -> list[bytes]:
    return upload_images(9) + [bad]


CASES = {
    # name: (uploads, form overrides, status, code)
    "9 images": (lambda: upload_images(9), {}, 422, "VALIDATION_ERROR"),
    "101 images": (lambda: upload_images(101, width=512, height=512), {}, 422, "VALIDATION_ERROR"),
    "511 px image": (lambda: _with_last(image_bytes(511, 800)), {}, 422, "INVALID_IMAGE_FORMAT"),
    "11 MB image": (lambda: _with_last(_eleven_mb()), {}, 413, "IMAGE_SIZE_EXCEEDED"),
    "GIF renamed .png": (lambda: _with_last(_gif()), {}, 422, "INVALID_IMAGE_FORMAT"),
    "truncated JPEG": (lambda: _with_last(_truncated_jpeg()), {}, 422, "INVALID_IMAGE_FORMAT"),
    "decompression bomb": (lambda: _with_last(_bomb()), {}, 422, "INVALID_IMAGE_FORMAT"),
    "animated PNG": (lambda: _with_last(_animated_png()), {}, 422, "INVALID_IMAGE_FORMAT"),
    "text file as .png": (lambda: _with_last(b"hello, I am not an image" * 100), {}, 422, "INVALID_IMAGE_FORMAT"),
    "non-English tag": (
        lambda: upload_images(10),
        {"image_tags": [["forest"]] * 9 + [["수채화"]]},
        422,
        "VALIDATION_ERROR",
    ),
    "accented tag": (lambda: upload_images(10), {"image_tags": [["café"]] * 10}, 422, "VALIDATION_ERROR"),
    "too long tag": (lambda: upload_images(10), {"image_tags": [["x" * 51]] * 10}, 422, "VALIDATION_ERROR"),
    "tags for 9 of 10 images": (lambda: upload_images(10), {"image_tags": [["forest"]] * 9}, 422, "VALIDATION_ERROR"),
    "image_tags not JSON": (lambda: upload_images(10), {"image_tags": "forest, sea"}, 422, "VALIDATION_ERROR"),
    "price 0": (lambda: upload_images(10), {"price": 0}, 422, "VALIDATION_ERROR"),
    "price 10,001": (lambda: upload_images(10), {"price": 10_001}, 422, "VALIDATION_ERROR"),
    "empty title": (lambda: upload_images(10), {"title": "  "}, 422, "VALIDATION_ERROR"),
    "title of 101 chars": (lambda: upload_images(10), {"title": "a" * 101}, 422, "VALIDATION_ERROR"),
    "trigger not in English": (lambda: upload_images(10), {"trigger": "수채화"}, 422, "VALIDATION_ERROR"),
    "description over 2000 chars": (
        lambda: upload_images(10),
        {"description": "<b>x</b>" * 2001},
        422,
        "VALIDATION_ERROR",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_upload_stores_nothing(app, client, make_artist, case):
    make_artist(client, "validator")
    uploads, overrides, status, code = CASES[case]
    images = uploads()
    queued_training_jobs()
    files, rows = stored_files(app), row_counts(app)

    response = post_style(client, images, **overrides)

    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert stored_files(app) == files
    assert row_counts(app) == rows
    assert queued_training_jobs() == []


def test_second_style_is_refused_and_stores_nothing(app, client, make_artist):
    make_artist(client, "onestyle")
    assert post_style(client).status_code == 201
    queued_training_jobs()
    files, rows = stored_files(app), row_counts(app)
    response = post_style(client, title="Another One")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "STYLE_LIMIT_REACHED"
    assert stored_files(app) == files and row_counts(app) == rows and queued_training_jobs() == []


def test_non_artist_and_anonymous_are_refused(app, client, make_client, login):
    login(client, "justauser")
    files, rows = stored_files(app), row_counts(app)
    response = post_style(client)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "ARTIST_ONLY"
    anonymous = make_client()
    response = post_style(anonymous)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "UNAUTHORIZED"
    assert stored_files(app) == files and row_counts(app) == rows


def test_post_without_csrf_token_is_refused(client, make_artist):
    make_artist(client, "nocsrf")
    from tests.test_styles_helpers import style_form

    response = client.post("/api/styles", data=style_form(), content_type="multipart/form-data", csrf=False)
    assert response.status_code == 403
