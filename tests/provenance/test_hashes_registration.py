"""Perceptual hashes shortlist copies; registration puts reframed copies back for the mark."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from stylelicense.provenance import hashes, registration
from stylelicense.provenance import watermark as wm

from .conftest import KEY, make_picture, reencode

SERIAL = 0x2468_ACE0_1357_9BDF


def test_sha256_and_signed_forms():
    assert hashes.sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        signed = hashes.to_signed(value)
        assert -(1 << 63) <= signed < (1 << 63)
        assert hashes.from_signed(signed) == value
    assert hashes.hamming(hashes.to_signed((1 << 64) - 1), 0) == 64


def test_perceptual_hashes_survive_reencoding_not_unrelated_pictures():
    image = make_picture(512, 512, seed=11)
    ph, dh = hashes.phash(image), hashes.dhash(image)
    for copy in (reencode(image, "JPEG", quality=70), image.resize((256, 256), Image.Resampling.LANCZOS)):
        assert hashes.hamming(ph, hashes.phash(copy)) <= 4
        assert hashes.hamming(dh, hashes.dhash(copy)) <= 6
    other = make_picture(512, 512, seed=12)
    assert hashes.ImageHashes("", ph, dh).distance(hashes.phash(other), hashes.dhash(other)) > 12


def test_window_hashes_find_crops_the_whole_image_hash_misses():
    image = make_picture(512, 512, seed=16)
    windows = hashes.window_hashes(image)
    assert len(windows) == 16 and windows[0] == (hashes.phash(image), hashes.dhash(image))
    crop = image.crop((60, 0, 60 + 420, 0 + 460))  # ~26 % of the area gone, off-centre
    ph, dh = hashes.phash(crop), hashes.dhash(crop)
    whole = min(hashes.hamming(ph, windows[0][0]), hashes.hamming(dh, windows[0][1]))
    best = min(min(hashes.hamming(ph, p), hashes.hamming(dh, d)) for p, d in windows)
    assert best <= 12 and best < whole


def test_registration_restores_a_cropped_shrunk_jpeg_for_the_mark():
    original = wm.embed_serial(make_picture(512, 512, seed=13), SERIAL, KEY)
    crop = original.crop((37, 21, 37 + 440, 21 + 450))  # ~25 % of the area gone, off the block grid
    copy = reencode(crop.resize((330, 338), Image.Resampling.BILINEAR), "JPEG", quality=75)
    assert wm.decode_serial(copy, KEY) is None
    reg = registration.register(copy, original)
    assert reg is not None and reg.image.size == original.size
    assert 0.6 < reg.coverage < 0.8
    # The empty border is marked invalid, never filled from the original.
    assert not reg.valid[:15, :].any() and np.asarray(reg.image)[:15, :].max() == 0
    refined = registration.refine(reg, copy, original) or reg
    assert wm.match_serial(refined.image, SERIAL, KEY, valid=refined.valid) >= wm.MATCH_MIN_AGREEING


def test_unrelated_pictures_do_not_register():
    original = make_picture(512, 512, seed=14)
    other = make_picture(512, 512, seed=15)
    assert registration.register(other, original) is None
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (128, 128, 128)).save(buf, "PNG")
    assert registration.register(Image.open(buf), original) is None  # no features at all


def test_a_near_identical_copy_is_derived_even_where_the_mark_reads_nothing():
    """A copy whose pixels are a stored original's but for one (a lossless re-save that kept the
    metadata) is attributed to it whatever its mark reads; a different picture is not."""
    from stylelicense.provenance import verification

    original = make_picture(512, 512, seed=5)  # never marked: the mark reads nothing here
    copy = original.copy()
    copy.putpixel((100, 100), (0, 0, 0))
    upload = io.BytesIO()
    copy.save(upload, "PNG")

    def verify(stored):
        candidate = verification.Candidate(serial=77, load_image=lambda: stored)
        return verification.verify_image(
            upload.getvalue(),
            key=KEY,
            lookup_by_serial=lambda serial: {"sha256": "not this file"} if serial == 77 else None,
            candidates_by_hash=lambda _ph, _dh: [candidate],
        )

    same = verify(original)
    assert (same.verdict, same.serial, same.method) == ("derived", 77, "registration")
    assert verify(make_picture(512, 512, seed=6)).verdict == "unknown"
