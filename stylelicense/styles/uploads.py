"""A new style's uploads: counts and per-image tags checked, every image validated by content and
re-encoded (the original and the 512-px training copy) into a scratch folder before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image

from ..errors import ValidationError
from ..images import MAX_STYLE_IMAGE_PIXELS, check_image, probe_image, read_upload, resize_to_fit, square_thumbnail
from ..tags.operations import normalize_tags
from ..text import field_error
from . import safeguards
from .schemas import MAX_IMAGE_BYTES, MAX_IMAGES, MIN_IMAGE_SIDE, MIN_IMAGES, StyleCreateForm

TRAINING_SIDE = 512


@dataclass
class PreparedImage:
    """One validated upload, re-encoded into the request's scratch folder (not stored yet)."""

    original: Path
    original_ext: str
    training: Path
    width: int
    height: int
    tags: list[str]
    fingerprint: safeguards.UploadHashes | None = None


def _training_copy(image: Image.Image) -> bytes:
    """The 512-px copy the worker trains on: short side 512, RGB (transparency on white), JPEG q95."""
    image = resize_to_fit(image, TRAINING_SIDE)
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    buffer = BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def prepare_images(files: list, image_tags: list[list[str]], workdir: Path) -> tuple[list[PreparedImage], bytes]:
    """Validate every upload by content and write its re-encoded original and training copy to ``workdir``;
    returns them with the listing thumbnail (from the first image). Raises on the first bad file.

    Every file's size, header (format, pixels, frames, sides) and rights reservation is checked first,
    without decoding anything: a bad 100th file is refused before the first one is decoded. Then one
    decoded image is in memory at a time: 100 uploads of 16 megapixels would not fit otherwise."""
    for index, upload in enumerate(files):
        field = f"images[{index}]"
        data = read_upload(upload, max_bytes=MAX_IMAGE_BYTES, field=field)
        probe_image(
            data, field=field, filename=upload.filename, min_side=MIN_IMAGE_SIDE, max_pixels=MAX_STYLE_IMAGE_PIXELS
        )
        safeguards.check_reservation(data, index)
        del data
        upload.stream.seek(0)  # read again below (one file in memory at a time)
    prepared: list[PreparedImage] = []
    thumbnail = b""
    for index, (upload, tags) in enumerate(zip(files, image_tags, strict=True)):
        field = f"images[{index}]"
        data = read_upload(upload, max_bytes=MAX_IMAGE_BYTES, field=field)
        checked = check_image(
            data, field=field, filename=upload.filename, min_side=MIN_IMAGE_SIDE, max_pixels=MAX_STYLE_IMAGE_PIXELS
        )
        del data  # the metadata (checked above) goes with the re-encode below
        ext = "png" if checked.image.mode == "RGBA" or checked.format == "PNG" else "jpg"
        original = workdir / f"{index}-original.{ext}"
        # Re-encoding drops anything hidden in the upload; fast PNG compression keeps big uploads quick.
        original.write_bytes(checked.encode("PNG", compress_level=3) if ext == "png" else checked.encode("JPEG"))
        training = workdir / f"{index}-training.jpg"
        training.write_bytes(_training_copy(checked.image))
        if index == 0:
            thumbnail = square_thumbnail(checked.image)
        prepared.append(
            PreparedImage(
                original, ext, training, checked.width, checked.height, tags, safeguards.hash_upload(checked.image)
            )
        )
        checked.image.close()
    return prepared, thumbnail


def check_counts(files: list, form: StyleCreateForm) -> list[list[str]]:
    if not MIN_IMAGES <= len(files) <= MAX_IMAGES:
        raise ValidationError(
            f"Upload between {MIN_IMAGES} and {MAX_IMAGES} images (got {len(files)}).",
            details={"fields": [{"field": "images", "message": "wrong number of images", "count": len(files)}]},
        )
    if form.image_tags is None:
        return [[] for _ in files]
    if len(form.image_tags) != len(files):
        raise field_error(
            "image_tags", f"image_tags must have one tag array per image ({len(files)}), not {len(form.image_tags)}."
        )
    return [normalize_tags(tags, field=f"image_tags[{i}]") for i, tags in enumerate(form.image_tags)]
