"""Visible signature, licence metadata and thumbnails (Pillow only, no model)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from workers.pipelines.signing import (
    DIGITAL_SOURCE_TYPE,
    ImageLicense,
    encode_signed_png,
    make_square_thumbnail,
    make_thumbnail,
    read_metadata,
    sign_output,
    signature_box,
    stamp_signature,
)


def _noise_image(width: int = 512, height: int = 512, low: int = 150, high: int = 230, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(low, high, (height, width, 3), dtype=np.uint8))


def _signature_image() -> Image.Image:
    sig = Image.new("RGB", (300, 120), "white")
    ImageDraw.Draw(sig).line([(10, 100), (80, 20), (150, 90), (290, 30)], fill="black", width=8)
    return sig


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _outside_box(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.ones(array.shape[:2], dtype=bool)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = False
    return array[mask]


LICENSE = ImageLicense(
    artist_name="Kim Jiwoo 김지우",
    style_title="Ink & Wash",
    style_id="sty_123",
    generation_id="gen_456",
    licence_url="https://stylelicense.test/licences/gen_456",
    licence_serial="SL-2025-000042",
    buyer="usr_789",
    created_at="2025-11-26T10:00:00Z",
)


@pytest.mark.parametrize("signature", [_signature_image(), None], ids=["image", "text"])
def test_signature_changes_pixels_only_inside_its_box(signature) -> None:
    image = _noise_image()
    stamped = stamp_signature(image, signature=signature, artist_name="Kim Jiwoo", seed=5)
    box = signature_box(512, 512, 5)
    before, after = _px(image), _px(stamped)
    left, top, right, bottom = box
    changed = np.abs(after[top:bottom, left:right] - before[top:bottom, left:right]).max(axis=2) > 30
    assert changed.mean() > 0.02  # real ink, not a few stray pixels
    assert np.array_equal(_outside_box(after, box), _outside_box(before, box))
    assert stamped.size == image.size and stamped.mode == "RGB"
    assert np.array_equal(_px(image), before)  # the input is not modified


def test_signature_box_geometry() -> None:
    for seed in range(20):
        left, top, right, bottom = signature_box(1024, 1024, seed)
        # bottom-right corner, ≈3.5 % inset, ≈22 % of the short side wide (plus halo and rotation)
        assert 1024 * 0.6 < left and right <= 1024 and 1024 * 0.75 < top and bottom <= 1024
        assert 0.2 * 1024 <= right - left <= 0.3 * 1024
        assert 1024 - right < 0.06 * 1024
    # never narrower than 96 px, even on small images
    left, _, right, _ = signature_box(256, 256, 0)
    assert right - left >= 96


def test_signature_varies_per_seed_and_is_stable_per_seed() -> None:
    boxes = {signature_box(512, 512, seed) for seed in range(10)}
    assert len(boxes) > 5
    assert signature_box(512, 512, 3) == signature_box(512, 512, 3)
    image = _noise_image()
    a = stamp_signature(image, signature=None, artist_name="Ann", seed=3)
    b = stamp_signature(image, signature=None, artist_name="Ann", seed=3)
    c = stamp_signature(image, signature=None, artist_name="Ann", seed=4)
    assert np.array_equal(_px(a), _px(b))
    assert not np.array_equal(_px(a), _px(c))


def test_text_signature_renders_the_artist_name() -> None:
    image = _noise_image()
    box = signature_box(512, 512, 1)
    left, top, right, bottom = box
    ann = _px(stamp_signature(image, signature=None, artist_name="Ann", seed=1))[top:bottom, left:right]
    bob = _px(stamp_signature(image, signature=None, artist_name="Bob Marley", seed=1))[top:bottom, left:right]
    drawn = _px(stamp_signature(image, signature=_signature_image(), artist_name="Ann", seed=1))
    assert np.abs(ann - bob).max(axis=2).mean() > 5
    assert not np.array_equal(ann, drawn[top:bottom, left:right])


@pytest.mark.parametrize(("low", "high", "dark_ink"), [(200, 255, True), (0, 50, False)])
def test_ink_contrasts_with_the_background(low: int, high: int, dark_ink: bool) -> None:
    image = _noise_image(low=low, high=high)
    stamped = stamp_signature(image, signature=None, artist_name="Ann Artist", seed=2)
    left, top, right, bottom = signature_box(512, 512, 2)
    lum = _px(stamped.convert("L").convert("RGB"))[top:bottom, left:right, 0]
    if dark_ink:
        assert lum.min() < 80
    else:
        assert lum.max() > 180


def test_transparent_signature_uses_its_alpha() -> None:
    sig = Image.new("RGBA", (200, 80), (0, 0, 0, 0))
    ImageDraw.Draw(sig).rectangle((20, 20, 180, 60), fill=(255, 0, 0, 255))
    image = _noise_image()
    stamped = stamp_signature(image, signature=sig, artist_name="x", seed=0)
    left, top, right, bottom = signature_box(512, 512, 0)
    diff = np.abs(_px(stamped) - _px(image))[top:bottom, left:right].max(axis=2)
    assert (diff > 30).mean() > 0.2  # a solid block of ink


def test_metadata_round_trips_through_png() -> None:
    image = _noise_image(128, 96)
    data = encode_signed_png(image, LICENSE)
    assert data.startswith(b"\x89PNG")
    meta = read_metadata(data)
    assert meta["format"] == "PNG" and meta["size"] == (128, 96)

    xmp = meta["xmp"]
    assert xmp["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert xmp["creator"] == [LICENSE.artist_name]
    assert xmp["marked"] is True
    assert xmp["web_statement"] == LICENSE.licence_url
    assert LICENSE.artist_name in xmp["rights"] and "2025" in xmp["rights"]
    assert LICENSE.licence_url in xmp["usage_terms"] and LICENSE.licence_serial in xmp["usage_terms"]
    assert xmp["licensor"] == {"name": LICENSE.artist_name, "url": LICENSE.licence_url}
    assert (xmp["generation_id"], xmp["style_id"]) == ("gen_456", "sty_123")
    assert (xmp["licence_serial"], xmp["licensee"]) == ("SL-2025-000042", "usr_789")
    assert 'xml:lang="x-default"' in meta["xmp_raw"]
    assert "&amp;" in meta["xmp_raw"]  # "Ink & Wash" is escaped, the packet is well-formed

    text = meta["text"]
    assert text["Artist"] == LICENSE.artist_name
    assert text["StyleLicense:GenerationId"] == "gen_456"
    assert text["StyleLicense:StyleId"] == "sty_123"
    assert text["StyleLicense:LicenseUrl"] == LICENSE.licence_url
    assert {"Copyright", "Description", "Source"} <= text.keys()

    exif = meta["exif"]
    assert exif["Artist"] == LICENSE.artist_name  # non-ASCII survives EXIF
    assert LICENSE.artist_name in exif["Copyright"]
    assert "Ink & Wash" in exif["ImageDescription"]

    # lossless: the pixels are exactly the image that was encoded
    assert np.array_equal(_px(Image.open(io.BytesIO(data))), _px(image))


def test_metadata_without_optional_fields() -> None:
    lic = ImageLicense("Ann", "Dots", "s1", "g1", "https://x.test/l/g1")
    xmp = read_metadata(encode_signed_png(_noise_image(64, 64), lic))["xmp"]
    assert xmp["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert "licence_serial" not in xmp and "licensee" not in xmp and "created_at" not in xmp


def test_read_metadata_of_a_plain_image_is_empty() -> None:
    buf = io.BytesIO()
    _noise_image(32, 32).save(buf, "PNG")
    meta = read_metadata(buf.getvalue())
    assert meta["xmp"] == {} and meta["text"] == {} and meta["exif"] == {}


def test_sign_output_stamps_then_encodes_with_metadata() -> None:
    image = _noise_image(512, 768)
    png, thumb = sign_output(image, signature=None, lic=LICENSE, seed=9)
    decoded = Image.open(io.BytesIO(png))
    expected = stamp_signature(image, signature=None, artist_name=LICENSE.artist_name, seed=9)
    assert np.array_equal(_px(decoded), _px(expected))
    left, top, right, bottom = signature_box(512, 768, 9)
    assert not np.array_equal(_px(decoded)[top:bottom, left:right], _px(image)[top:bottom, left:right])
    assert read_metadata(png)["xmp"]["generation_id"] == "gen_456"

    thumb_meta = read_metadata(thumb)
    assert thumb_meta["format"] == "WEBP"
    assert max(thumb_meta["size"]) == 512 and thumb_meta["size"] == (341, 512)
    assert thumb_meta["xmp"]["digital_source_type"] == DIGITAL_SOURCE_TYPE


def test_make_thumbnail_keeps_aspect_and_never_upscales() -> None:
    meta = read_metadata(make_thumbnail(_noise_image(1024, 512)))
    assert meta["format"] == "WEBP" and meta["size"] == (512, 256)
    assert read_metadata(make_thumbnail(_noise_image(200, 100), max_side=512))["size"] == (200, 100)


def test_make_square_thumbnail_is_a_centre_crop_jpeg() -> None:
    image = Image.new("RGB", (300, 100), "blue")
    ImageDraw.Draw(image).rectangle((100, 0, 199, 99), fill="red")  # the centre third is red
    data = make_square_thumbnail(image, size=64)
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "JPEG" and thumb.size == (64, 64)
    r, g, b = thumb.convert("RGB").getpixel((32, 32))
    assert r > 200 and b < 60


def test_signing_needs_only_pillow() -> None:
    # The output stage and read_metadata must stay usable where torch is not installed.
    code = "import sys, workers.pipelines.signing; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_non_latin_name_uses_a_font_that_has_the_glyphs(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.pipelines import signature_stamp as signing

    cjk = [p for p in signing._SYSTEM_FONTS if Path(p).is_file()]
    if not cjk:
        pytest.skip("no CJK system font installed")
    monkeypatch.delenv("STYLELICENSE_SIGNATURE_FONT", raising=False)
    font = signing._load_font(20, "김지우")
    assert isinstance(font, ImageFont.FreeTypeFont) and font.path in cjk
    # Distinct Hangul names render differently (with a Latin-only font both would be rows of boxes).
    image = _noise_image()
    left, top, right, bottom = signature_box(512, 512, 0)
    a = _px(stamp_signature(image, signature=None, artist_name="김지우", seed=0))[top:bottom, left:right]
    b = _px(stamp_signature(image, signature=None, artist_name="박서준", seed=0))[top:bottom, left:right]
    assert np.abs(a - b).max(axis=2).mean() > 5
    assert signing._load_font(20, "Ann").path != font.path  # Latin names keep the default font
