"""POST /api/verify on copies that went through everyday edits: brightened, contrast changed, blurred,
mirrored. The signed file comes from the real output stage, its licence from the real database; the
edits are Pillow's own (ImageEnhance, GaussianBlur, ImageOps.mirror) and the copies are JPEGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from stylelicense.provenance.serials import format_serial

from . import test_licences_api as api
from .conftest import make_picture

# The delivery fixtures of the licence API tests (a generation, the worker's output stage, the webhook).
world = api.world
delivered = api.delivered

EDITS = {
    "brightened 20 %": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "darkened 20 %": lambda im: ImageEnhance.Brightness(im).enhance(0.8),
    "contrast +20 %": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
    "blurred (radius 1.5)": lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
    "mirrored": ImageOps.mirror,
    "mirrored, brightened and cropped": lambda im: ImageEnhance.Brightness(
        ImageOps.mirror(im).crop((30, 20, 30 + 430, 20 + 440))
    ).enhance(1.15),
}


def _public_copy(world, delivered) -> Image.Image:
    world.owner.patch(f"/api/generations/{delivered.generation_id}", json={"is_public": True})
    return Image.open(io.BytesIO(delivered.png)).convert("RGB")


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_copy_is_attributed_to_its_licence(app, world, delivered, edit):
    image = _public_copy(world, delivered)
    copy = api._encode(EDITS[edit](image), "JPEG", quality=90)
    result = api._verify(world.stranger, copy).get_json()["data"]
    assert result["verdict"] == "derived", edit
    assert result["licence"]["serial"] == delivered.serial
    assert result["licence"]["artist"]["name"] == "Painter Pat"


def test_an_edited_copy_is_told_apart_from_another_licence(app, world, delivered, dev_chain):
    """Two licences in the database: a brightened mirrored copy of the second names the second."""
    image = _public_copy(world, delivered)
    second_id = api._generate(world)
    second = api._worker(app, world.owner, second_id, dev_chain, seed=42)
    assert second.response.status_code == 200
    world.owner.patch(f"/api/generations/{second_id}", json={"is_public": True})
    other = Image.open(io.BytesIO(second.png)).convert("RGB")
    for picture, serial in ((other, format_serial(second.payload.licence_serial)), (image, delivered.serial)):
        copy = api._encode(ImageEnhance.Brightness(ImageOps.mirror(picture)).enhance(1.2), "JPEG", quality=90)
        result = api._verify(world.stranger, copy).get_json()["data"]
        assert (result["verdict"], result["licence"]["serial"]) == ("derived", serial)


def _busy_picture(width: int, height: int, seed: int) -> Image.Image:
    """Fine texture over most of the picture, like the tiny model's outputs: a blur moves most
    blocks' marked values, so a blurred copy is not read blind (≈ 72 of 96 bits)."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (height // 3 + 1, width // 3 + 1, 3)).astype(np.uint8)
    busy = np.asarray(Image.fromarray(cells).resize((width + 3, height + 3), Image.Resampling.NEAREST))[:height, :width]
    t = np.linspace(0, 1, width)[None, :, None]
    smooth = np.broadcast_to(rng.integers(40, 216, 3) * (1 - t) + rng.integers(40, 216, 3) * t, (height, width, 3))
    patches = rng.random((8, 8)) < 0.85
    where = np.asarray(Image.fromarray(patches.astype(np.uint8) * 255).resize((width, height)))[..., None] > 0
    return Image.fromarray(np.where(where, busy, smooth).astype(np.uint8))


def test_the_unmarked_source_of_a_finely_textured_output_stays_unknown_when_blurred(app, world, dev_chain):
    """The blur read uses the candidate only to choose which blocks vote: the same texture without this
    output's mark, blurred, is not attributed to it. (A blurred copy of such a noise-like output is
    attributed for some serials only — 2 of 6 trials — so that direction is measured by
    bench/provenance_bench.py, not asserted here.)"""
    generation_id = api._generate(world)
    done = api._worker(app, world.owner, generation_id, dev_chain, seed=1, picture=_busy_picture)
    assert done.response.status_code == 200
    world.owner.patch(f"/api/generations/{generation_id}", json={"is_public": True})
    unmarked = api._encode(_busy_picture(512, 512, seed=1).filter(ImageFilter.GaussianBlur(1.5)), "JPEG", quality=90)
    assert api._verify(world.stranger, unmarked).get_json()["data"]["verdict"] == "unknown"


def test_unrelated_and_unmarked_edited_pictures_stay_unknown(app, world, delivered):
    _public_copy(world, delivered)
    unknown = {"verdict": "unknown", "confidence": 0.0, "licence": None, "private_licence": False}
    unrelated = make_picture(512, 512, seed=77)
    for edit in ("brightened 20 %", "mirrored", "blurred (radius 1.5)"):
        copy = api._encode(EDITS[edit](unrelated), "JPEG", quality=90)
        assert api._verify(world.anonymous, copy).get_json()["data"] == unknown, edit
    # The very picture the output was made from, before its mark: the same content registers
    # perfectly and its levels are matched, but the licence's mark is not in it, so it is not
    # attributed (the confirmation never borrows the mark from the stored original).
    source = make_picture(512, 512, seed=41)  # what the worker fixture signed
    for edit in ("brightened 20 %", "blurred (radius 1.5)", "mirrored"):
        copy = api._encode(EDITS[edit](source), "JPEG", quality=90)
        assert api._verify(world.anonymous, copy).get_json()["data"] == unknown, edit
