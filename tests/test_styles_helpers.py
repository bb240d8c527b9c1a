"""Helpers shared by the styles and training tests (uploads, storage listing, queued jobs)."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image

PALETTE = [
    (200, 80, 40),
    (30, 120, 200),
    (240, 220, 60),
    (20, 160, 90),
    (150, 40, 160),
    (250, 250, 250),
    (10, 10, 10),
    (120, 120, 120),
    (230, 120, 180),
    (60, 200, 220),
]


def image_bytes(width: int = 600, height: int = 600, color=(200, 80, 40), fmt: str = "PNG", **save) -> bytes:
    """A real image with a little structure (a bar), so re-encodes and resizes have something to keep."""
    image = Image.new("RGB", (width, height), color)
    image.paste((255 - color[0], 255 - color[1], 255 - color[2]), (0, 0, width // 3, height))
    buffer = BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def upload_images(count: int, *, width: int = 600, height: int = 600) -> list[bytes]:
    return [image_bytes(width, height, PALETTE[i % len(PALETTE)]) for i in range(count)]


def style_form(
    images: list[bytes] | None = None,
    *,
    names: list[str] | None = None,
    title: str = "Watercolor Dreams",
    description: str = "Soft washes of colour.",
    price: int | str = 25,
    image_tags: list[list[str]] | str | None = None,
    **extra,
) -> dict:
    """Multipart data for POST /api/styles (``image_tags`` defaults to two tags per image)."""
    images = upload_images(10) if images is None else images
    names = names or [f"art-{i}.png" for i in range(len(images))]
    if image_tags is None:
        image_tags = [["Forest", "soft light"] if i % 2 else ["portrait", "Forest"] for i in range(len(images))]
    data = {
        "title": title,
        "description": description,
        "generation_cost_tokens": str(price),
        "image_tags": image_tags if isinstance(image_tags, str) else json.dumps(image_tags),
        "images": [(BytesIO(data), name) for data, name in zip(images, names, strict=True)],
    }
    data.update(extra)
    return data


def post_style(client, images: list[bytes] | None = None, **kwargs):
    return client.post("/api/styles", data=style_form(images, **kwargs), content_type="multipart/form-data")


def storage_root(app) -> Path:
    return Path(urlparse(app.config["STORAGE_URL"]).path)


def stored_files(app) -> set[str]:
    """Every file in the app's local storage, as ``private/...`` / ``public/...`` paths."""
    root = storage_root(app)
    if not root.exists():
        return set()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def queued_training_jobs() -> list[dict]:
    """Drain the in-process ``memory://`` broker's training queue and return the task payloads."""
    from kombu import Connection

    payloads = []
    with Connection("memory://") as connection:
        channel = connection.channel()
        try:
            while (message := channel.basic_get(queue="model_training", no_ack=True)) is not None:
                body = message.decode()
                kwargs = body[1] if isinstance(body, list) else body.get("kwargs", {})
                payloads.append({"task": message.headers.get("task"), **kwargs})
        except Exception as error:  # the queue was never declared: nothing was ever sent
            if "NOT_FOUND" not in str(error) and "no queue" not in str(error).lower():
                raise
    return payloads


def row_counts(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from stylelicense.extensions import db
    from stylelicense.styles.models import Artwork, Style
    from stylelicense.tags.models import Tag

    with app.app_context():
        counts = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Style, Artwork, Tag)
        }
        db.session.remove()
    return counts
