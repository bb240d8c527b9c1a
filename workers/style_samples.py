"""The training worker's last step: preview samples of the new style (SPEC §13).

Renders them with :func:`workers.pipelines.samples.render_samples`, passes every image through the
same output stage as a sold image (visible signature → invisible watermark → rights metadata → C2PA),
stores them publicly and returns what the completion webhook reports. The licences of samples belong
to the platform (``buyer`` names it); they are never sold. The "without the style" renders come from
the bare base model, so they carry the platform's name as their visible mark, not the artist's.
"""

from __future__ import annotations

import io
import logging
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

PLATFORM = "Style License"
SAMPLE_BUYER = "Style License (preview sample, not for sale)"


def sample_settings(base_model: str) -> tuple[int, int, int]:
    """``(count, side, steps)``: ``SAMPLE_COUNT``/``SAMPLE_SIDE``/``SAMPLE_STEPS``, or defaults that keep
    the tiny test model cheap (256 px, the smallest side the invisible mark fits; 4 steps) and give a
    real model readable previews (512 px, 25 steps)."""
    tiny = base_model == "tiny"
    count = int(os.environ.get("SAMPLE_COUNT") or 4)
    side = int(os.environ.get("SAMPLE_SIDE") or (256 if tiny else 512))
    steps = int(os.environ.get("SAMPLE_STEPS") or (4 if tiny else 25))
    return count, side, steps


def style_tags(images: list[dict[str, Any]]) -> list[str]:
    """The style's tags, most used first (from the training images' own tags)."""
    counts = Counter(tag for item in images for tag in dict.fromkeys(item.get("tags") or []))
    return [tag for tag, _ in counts.most_common()]


def _signature(storage, key: str | None):
    from PIL import Image, UnidentifiedImageError

    from stylelicense.storage import ObjectNotFound

    if not key:
        return None
    try:
        image = Image.open(io.BytesIO(storage.get(key)), formats=["PNG", "JPEG"])
        image.load()
        return image
    except (ObjectNotFound, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        log.warning("signature %s cannot be used for the samples; stamping the name instead", key)
        return None


def render_and_store_samples(job, *, lora: bytes, storage, run_id: str) -> list[dict[str, Any]]:
    """Render, sign and store the samples of ``job`` (a TrainStylePayload) whose LoRA is ``lora``;
    returns the ``samples`` list of the completion webhook. Raises on any failure: a style without
    samples is not completed (the job fails or retries like any other step)."""
    from stylelicense.provenance.serials import new_serial
    from workers.pipelines.inference import InferenceEngine
    from workers.pipelines.samples import render_samples
    from workers.pipelines.signing import ImageLicense
    from workers.provenance.output_stage import finish_output

    base_model = os.environ.get("STYLELICENSE_BASE_MODEL") or "tiny"
    count, side, steps = sample_settings(base_model)
    engine = InferenceEngine(base_model, lora_cache_size=0)
    samples = render_samples(
        engine,
        lora_key=job.lora_key,
        lora_loader=lambda: lora,
        trigger=job.trigger,
        tags=style_tags(job.images),
        count=count,
        side=side,
        steps=steps,
    )
    signature = _signature(storage, getattr(job, "signature_key", None))
    artist = getattr(job, "artist_name", None) or PLATFORM
    title = getattr(job, "style_title", None) or job.trigger
    created = datetime.now(UTC).isoformat(timespec="seconds")
    stem = f"styles/{job.style_id}/samples/{run_id[:12]}"
    out = []
    for index, sample in enumerate(samples):
        entry: dict[str, Any] = {"prompt": sample.prompt, "seed": sample.seed, "width": side, "height": side}
        for variant, image, name, mark in (
            ("with", sample.with_style, artist, signature),
            ("without", sample.without_style, PLATFORM, None),
        ):
            lic = ImageLicense(
                artist_name=name,
                style_title=title,
                style_id=str(job.style_id),
                generation_id=f"sample-{job.style_id}-{index + 1}-{variant}",
                licence_url=getattr(job, "licence_url", None) or "",
                buyer=SAMPLE_BUYER,
                created_at=created,
            )
            png, thumbnail, report = finish_output(
                image,
                signature=mark,
                lic=lic,
                seed=sample.seed,
                serial=new_serial(),
                terms_version=getattr(job, "terms_version", None) or "",
            )
            key = f"{stem}-{index + 1}-{variant}.png"
            storage.put(key, png, public=True, content_type="image/png")
            if variant == "with":
                thumb_key = f"{stem}-{index + 1}-thumb.webp"
                storage.put(thumb_key, thumbnail, public=True, content_type="image/webp")
                entry.update(key=key, thumbnail_key=thumb_key, provenance=report)
            else:
                entry.update(without_key=key, without_provenance=report)
        out.append(entry)
    log.info("style %s: %d samples rendered and stored (%d px, %d steps)", job.style_id, len(out), side, steps)
    return out


def training_report(result, *, images: int, resolution: int) -> dict[str, Any]:
    """The owner's training report of a finished run (``TrainingResult``): sampled loss and figures."""
    import math

    return {
        "loss": [[step, round(value, 6)] for step, value in result.loss_curve if math.isfinite(value)],
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "images": images,
        "resolution": resolution,
    }
