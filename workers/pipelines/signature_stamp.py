"""The visible artist signature stamped into every output (NOTES §8): the artist's signature image, or
their name in a font that has its glyphs, in a seeded corner box with a soft halo (Pillow only)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

# A TrueType font with wider script coverage (e.g. Noto Sans CJK) for names Pillow's default font lacks.
_FONT_ENV = "STYLELICENSE_SIGNATURE_FONT"
_SYSTEM_FONTS = [  # Debian/Ubuntu fonts-noto-cjk and fonts-nanum
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
]

# Signature geometry, relative to the image's short side (NOTES §8).
SIGNATURE_WIDTH = 0.22
SIGNATURE_MIN_WIDTH = 96
SIGNATURE_INSET = 0.035
SIGNATURE_OPACITY = 0.85
_SIGNATURE_ASPECT = 0.42  # box height / width; signatures are fitted inside it
_HALO_OPACITY = 0.55


@dataclass(frozen=True)
class _Layout:
    box_w: int  # ink area before rotation
    box_h: int
    pad: int  # room around the ink for the halo
    angle: float
    x: int  # top-left of the rotated canvas in the image
    y: int
    w: int  # rotated canvas size
    h: int


@lru_cache(maxsize=256)
def _layout(width: int, height: int, seed: int) -> _Layout:
    """Where and how the signature goes. Deterministic in (size, seed); the per-image jitter of
    offset, scale and rotation keeps marks from being removable by aligning many images (Dekel et al.)."""
    short = min(width, height)
    # A string seed goes through SHA-512, so the jitter is stable across Python versions.
    rnd = random.Random(f"stylelicense-signature:{seed}")
    scale = rnd.uniform(0.92, 1.08)
    angle = rnd.uniform(-4.0, 4.0)
    jitter = 0.012 * short
    dx, dy = rnd.uniform(-jitter, jitter), rnd.uniform(-jitter, jitter)

    box_w = round(max(SIGNATURE_MIN_WIDTH, SIGNATURE_WIDTH * short) * scale)
    box_w = max(16, min(box_w, int(width * 0.6)))  # tiny images: keep it inside
    box_h = max(8, min(round(box_w * _SIGNATURE_ASPECT), int(height * 0.5)))
    pad = max(3, round(box_w * 0.05))
    canvas = (box_w + 2 * pad, box_h + 2 * pad)
    w, h = Image.new("L", canvas).rotate(angle, expand=True).size

    inset = SIGNATURE_INSET * short
    cx = width - inset + dx - box_w / 2
    cy = height - inset + dy - box_h / 2
    x = min(max(0, round(cx - w / 2)), max(0, width - w))
    y = min(max(0, round(cy - h / 2)), max(0, height - h))
    return _Layout(box_w, box_h, pad, angle, x, y, w, h)


def signature_box(width: int, height: int, seed: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the region the signature (with its halo) may occupy for an
    image of this size and this seed; everything outside it is left untouched."""
    lay = _layout(width, height, seed)
    return lay.x, lay.y, min(width, lay.x + lay.w), min(height, lay.y + lay.h)


def _load_font(size: int, text: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The configured font, else (for names beyond Latin) a system CJK font, else Pillow's default
    (Latin only: Hangul or kanji would come out as boxes)."""
    candidates = [os.environ.get(_FONT_ENV, "")]
    if any(ord(ch) > 0x24F for ch in text):
        candidates += _SYSTEM_FONTS
    for path in filter(None, candidates):
        try:
            return ImageFont.truetype(path, size=size)
        except OSError:
            continue  # missing or unreadable font: try the next one
    return ImageFont.load_default(size=size)


def _text_mask(text: str, box: tuple[int, int]) -> Image.Image:
    """The artist's name as an ink mask, as large as fits the box."""
    box_w, box_h = box
    size = max(8, round(box_h * 0.8))
    font = _load_font(size, text)
    left, top, right, bottom = font.getbbox(text)
    if right - left > box_w:  # long names: shrink to the box width
        size = max(8, int(size * box_w / (right - left)))
        font = _load_font(size, text)
        left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font)
    return mask


def _image_mask(signature: Image.Image) -> Image.Image:
    """An ink mask from an uploaded signature: its alpha if it has a real one, else its darkness on
    light paper (or lightness on dark paper); trimmed to the ink."""
    signature = ImageOps.exif_transpose(signature)
    mask = None
    if signature.mode in ("RGBA", "LA", "PA") or (signature.mode == "P" and "transparency" in signature.info):
        alpha = signature.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 250:  # not just an opaque alpha channel
            mask = alpha
    if mask is None:
        gray = signature.convert("L")
        mask = ImageOps.invert(gray) if ImageStat.Stat(gray).median[0] >= 128 else gray
        mask = ImageOps.autocontrast(mask)
        mask = mask.point(lambda v: 0 if v < 48 else v)  # paper grain is not ink
    bbox = mask.getbbox()
    return mask.crop(bbox) if bbox else mask


def _fit_bottom_right(mask: Image.Image, box: tuple[int, int]) -> Image.Image:
    box_w, box_h = box
    ratio = min(box_w / mask.width, box_h / mask.height)
    size = (max(1, round(mask.width * ratio)), max(1, round(mask.height * ratio)))
    fitted = mask.resize(size, Image.Resampling.LANCZOS)
    out = Image.new("L", box, 0)
    out.paste(fitted, (box_w - size[0], box_h - size[1]))
    return out


def stamp_signature(image: Image.Image, *, signature: Image.Image | None, artist_name: str, seed: int) -> Image.Image:
    """Return a copy of ``image`` (RGB) with the artist's visible signature in the bottom-right corner.

    ``signature`` is the artist's uploaded signature image; when None the artist's name is rendered as
    text. Size ≈22 % of the short side (≥96 px), inset ≈3.5 %, opacity 0.85, with a small seed-derived
    variation of offset/scale/rotation. The ink is dark or light depending on the background under it,
    with a soft halo of the opposite tone so it stays legible on busy images.
    """
    base = image.convert("RGB")
    lay = _layout(base.width, base.height, seed)
    box = (lay.box_w, lay.box_h)
    if signature is not None:
        ink = _fit_bottom_right(_image_mask(signature), box)
    else:
        ink = _fit_bottom_right(_text_mask(artist_name.strip() or "?", box), box)

    region = base.crop((lay.x, lay.y, lay.x + lay.w, lay.y + lay.h)).convert("L")
    bright = ImageStat.Stat(region).mean[0] >= 128
    ink_rgb, halo_rgb = ((24, 24, 24), (255, 255, 255)) if bright else ((245, 245, 245), (0, 0, 0))

    canvas_size = (lay.box_w + 2 * lay.pad, lay.box_h + 2 * lay.pad)
    ink_mask = Image.new("L", canvas_size, 0)
    ink_mask.paste(ink, (lay.pad, lay.pad))
    radius = max(1, lay.pad // 2)
    halo_mask = ink_mask.filter(ImageFilter.MaxFilter(2 * radius + 1)).filter(ImageFilter.GaussianBlur(radius))

    layer = Image.new("RGBA", canvas_size, (*halo_rgb, 0))
    layer.putalpha(halo_mask.point(lambda v: round(v * _HALO_OPACITY)))
    ink_layer = Image.new("RGBA", canvas_size, (*ink_rgb, 0))
    ink_layer.putalpha(ink_mask.point(lambda v: round(v * SIGNATURE_OPACITY)))
    layer = Image.alpha_composite(layer, ink_layer)
    layer = layer.rotate(lay.angle, resample=Image.Resampling.BICUBIC, expand=True)

    out = base.convert("RGBA")
    # The canvas may overhang a tiny image; crop it to what fits.
    layer = layer.crop((0, 0, min(layer.width, out.width - lay.x), min(layer.height, out.height - lay.y)))
    out.alpha_composite(layer, dest=(lay.x, lay.y))
    return out.convert("RGB")
