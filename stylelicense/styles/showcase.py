"""What a style shows before anyone pays: its preview samples (with and without the style) and, for
its owner, the training report (SPEC §13). Stored on the style as JSON by the training webhook."""

from __future__ import annotations

import math
from typing import Any

from ..storage import get_storage
from ..text import field_error
from .models import Style
from .safeguards import register_output

SAMPLE_FIELDS = ("key", "thumbnail_key", "without_key", "prompt", "seed", "width", "height")
MIN_SAMPLES = 4


def serialize_samples(style: Style) -> list[dict[str, Any]]:
    """``[{url, thumbnail_url, prompt, seed, width, height, without_style_url}]`` (public files)."""
    storage = get_storage()
    return [
        {
            "url": storage.public_url(item["key"]),
            "thumbnail_url": storage.public_url(item["thumbnail_key"]),
            "prompt": item["prompt"],
            "seed": item["seed"],
            "width": item["width"],
            "height": item["height"],
            "without_style_url": storage.public_url(item["without_key"]),
        }
        for item in style.samples or []
    ]


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
    return {
        "loss": [[int(step), float(value)] for step, value in report.get("loss", [])],
        "steps": int(report.get("steps", 0)),
        "seconds": float(report.get("seconds", 0)),
        "images": int(report.get("images", 0)),
        "resolution": int(report.get("resolution", 0)),
    }


def record_showcase(style: Style, samples: list[dict], report: dict | None) -> None:
    """Store the completion webhook's samples and training report on ``style`` (flushes nothing).

    Refuses (422) fewer than :data:`MIN_SAMPLES` samples or a key outside the style's samples
    folder: a style is ``completed`` only with its previews. Each sample's files are registered as
    platform outputs, so nobody can register them as their own training images."""
    if len(samples) < MIN_SAMPLES:
        raise field_error("samples", f"a completed style needs at least {MIN_SAMPLES} samples, got {len(samples)}")
    prefix = f"styles/{style.id}/samples/"
    stored = []
    for i, sample in enumerate(samples):
        for name in ("key", "thumbnail_key", "without_key"):
            key = sample[name]
            if not key.startswith(prefix) or ".." in key:
                raise field_error(f"samples[{i}].{name}", "not in this style's samples folder")
        stored.append({name: sample[name] for name in SAMPLE_FIELDS})
        for provenance in (sample.get("provenance"), sample.get("without_provenance")):
            if provenance:
                register_output(provenance.get("windows") or [(provenance["phash"], provenance["dhash"])], style.id)
    style.samples = stored
    if report is not None:
        style.training_report = {
            "loss": [[int(step), float(value)] for step, value in report.get("loss", []) if math.isfinite(value)],
            "steps": report.get("steps", 0),
            "seconds": round(report.get("seconds", 0), 2),
            "images": report.get("images", 0),
            "resolution": report.get("resolution", 0),
        }
