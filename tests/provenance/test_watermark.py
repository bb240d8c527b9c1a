"""The invisible watermark: round trips, robustness to re-encoding, and the keyed tag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylelicense.provenance import watermark as wm

from .conftest import KEY, OTHER_KEY, make_picture, reencode

SERIAL = 0x1D2C_3B4A_5968_7786


@pytest.fixture(scope="module")
def marked():
    original = make_picture(512, 512, seed=1)  # the smallest generation size
    return original, wm.embed_serial(original, SERIAL, KEY)


def test_round_trip_and_invisibility(marked):
    original, image = marked
    assert image.size == original.size
    assert wm.decode_serial(image, KEY) == SERIAL
    error = np.asarray(image, float) - np.asarray(original, float)
    psnr = 10 * np.log10(255**2 / np.mean(error**2))
    assert psnr > 38  # faint: blind-watermark's own defaults give about 38 dB


@pytest.mark.parametrize(
    ("fmt", "options"), [("JPEG", {"quality": 70}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 80})]
)
def test_survives_reencoding(marked, fmt, options):
    _, image = marked
    assert wm.decode_serial(reencode(image, fmt, **options), KEY) == SERIAL


def test_survives_resizing_back(marked):
    _, image = marked
    small = reencode(image.resize((256, 256), Image.Resampling.LANCZOS), "PNG")
    assert wm.decode_serial(small, KEY) is None  # the block grid no longer lines up...
    assert wm.decode_serial(small.resize((512, 512), Image.Resampling.LANCZOS), KEY) == SERIAL  # ...until resized


def test_wrong_key_reads_nothing(marked):
    _, image = marked
    assert wm.decode_serial(image, OTHER_KEY) is None


def test_forged_tag_is_refused():
    """Someone who knows our block layout but not the key writes a serial with a tag of their own:
    the decoder reads their bits perfectly, and the tag check refuses them."""
    image = make_picture(256, 256, seed=2)
    layout = wm.watermarker_for_key(KEY)
    forged_bits = wm.payload_bits(SERIAL, OTHER_KEY)
    forged = layout.embed(image, forged_bits)
    assert np.array_equal(layout.decode(forged, wm.PAYLOAD_BITS) > 0.5, forged_bits)
    assert wm.parse_payload(forged_bits, OTHER_KEY) == SERIAL
    assert wm.decode_serial(forged, KEY) is None
    # Flipping a single tag bit of a genuine payload is refused too.
    genuine = wm.payload_bits(SERIAL, KEY)
    genuine[-1] = not genuine[-1]
    assert wm.parse_payload(genuine, KEY) is None


@pytest.mark.parametrize("seed", range(6))
def test_unrelated_images_carry_no_serial(seed):
    image = make_picture(256, 256, seed=100 + seed)
    assert wm.decode_serial(image, KEY) is None
    assert wm.match_serial(image, SERIAL, KEY) < wm.MATCH_MIN_AGREEING


def test_informed_match_tells_licences_apart(marked):
    _, image = marked
    heavy = reencode(image, "JPEG", quality=40)
    assert wm.match_serial(heavy, SERIAL, KEY) >= wm.MATCH_MIN_AGREEING
    assert wm.match_serial(heavy, SERIAL ^ 0x5A5A_5A5A_0F0F_0F0F, KEY) < wm.MATCH_MIN_AGREEING


def test_votes_only_where_the_copy_is(marked):
    """Half of the frame holds another licensed image: unmasked, the votes cancel out; limited to
    the valid half, the serial reads back."""
    _, image = marked
    other = wm.embed_serial(make_picture(512, 512, seed=3), 0x0F0F_1234_ABCD_0042, KEY)
    pixels = np.asarray(image).copy()
    pixels[:, 256:] = np.asarray(other)[:, 256:]
    valid = np.zeros(pixels.shape[:2], bool)
    valid[:, :256] = True
    mixed = Image.fromarray(pixels)
    assert wm.decode_serial(mixed, KEY) is None
    assert wm.decode_serial(mixed, KEY, valid=valid) == SERIAL


def test_reads_marks_written_by_blind_watermark():
    """Same scheme: a file marked by the blind-watermark 0.4.4 package itself (passwords 20240601 /
    424242, its default strength) decodes to the bits it was given."""
    image = Image.open(Path(__file__).parent / "data" / "blind_watermark_0.4.4.png")
    expected = np.unpackbits(np.frombuffer(bytes.fromhex("e149037a10526caaad6e1c56"), np.uint8)).astype(bool)
    reader = wm.DwtDctSvdWatermarker(password_img=20240601, password_wm=424242, d1=36)
    assert np.array_equal(reader.decode(image, 96) > 0.5, expected)


def test_keys_and_serials_are_checked():
    with pytest.raises(ValueError):
        wm.normalize_key(b"short")
    with pytest.raises(ValueError):
        wm.payload_bits(0, KEY)
    with pytest.raises(ValueError):
        wm.payload_bits(1 << 63, KEY)
    bits = wm.payload_bits(wm.MAX_SERIAL, KEY)
    assert bits.size == wm.PAYLOAD_BITS and wm.parse_payload(bits, KEY) == wm.MAX_SERIAL


def test_key_from_environment(monkeypatch):
    monkeypatch.delenv(wm.KEY_ENV, raising=False)
    with pytest.raises(RuntimeError):
        wm.key_from_env()
    monkeypatch.setenv(wm.KEY_ENV, KEY.decode())
    assert wm.key_from_env() == KEY


def test_smoothing_softens_the_block_grid_on_flat_areas():
    """On a plain gradient the mark's 8×8 steps are what an eye would catch; smoothing them keeps
    every bit readable."""
    t = np.linspace(0, 1, 512)[None, :, None]
    gradient = Image.fromarray(np.broadcast_to(60 + 120 * t, (512, 512, 3)).astype(np.uint8))
    layout = wm.watermarker_for_key(KEY)
    bits = wm.payload_bits(SERIAL, KEY)
    steps = {}
    for smooth in (False, True):
        marked = replace(layout, smooth=smooth).embed(gradient, bits)
        assert wm.decode_serial(reencode(marked, "JPEG", quality=80), KEY) == SERIAL
        change = np.asarray(marked.convert("L"), float) - np.asarray(gradient.convert("L"), float)
        steps[smooth] = np.abs(change[:, 8::8] - change[:, 7:-1:8]).mean()
    assert steps[True] < 0.8 * steps[False]
