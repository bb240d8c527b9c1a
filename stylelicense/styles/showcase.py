"""What a style shows before anyone pays: its preview samples (with and without the style) and, for
its owner, the training report (SPEC §13). Stored on the style as JSON by the training webhook."""

from __future__ import annotations

from typing import Any

from ..storage import get_storage
from .models import Style

SAMPLE_FIELDS = ("key", "thumbnail_key", "without_key", "prompt", "seed", "width", "height")
MIN_SAMPLES = 4


def serialize_samples(style: Style) -> list[dict[str, Any]]:
    """``[{url, thumbnail_url, prompt, seed, width, height, without_style_url}]`` (public files)."""
    storage = get_storage()
    return [{"url": storage.public_url(item["key"]), "thumbnail_url": storage.public_url(item["thumbnail_key"]),
             "prompt": item["prompt"], "seed": item["seed"], "width": item["width"], "height": item["height"],
             "without_style_url": storage.public_url(item["without_key"])}
            for item in style.samples or []]


def card_thumbnail_url(style: Style) -> str | None:
    """The picture a card shows: the first sample (what the style makes), else the artist's cover."""
    storage = get_storage()
    if style.samples:
        return storage.public_url(style.samples[0]["thumbnail_key"])
    return storage.public_url(style.thumbnail_key) if style.thumbnail_key else None


def serialize_training_report(style: Style) -> dict[str, Any] | None:
    """``{loss: [[step, value]...], steps, seconds, images, resolution}`` once trained, else None."""
    report = style.training_report
    if not report:
        return None
    return {"loss": [[int(step), float(value)] for step, value in report.get("loss", [])],
            "steps": int(report.get("steps", 0)), "seconds": float(report.get("seconds", 0)),
            "images": int(report.get("images", 0)), "resolution": int(report.get("resolution", 0))}
