"""The whole output stage, and verification of copies in the issue's order."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from stylelicense.provenance import c2pa_manifest, hashes, verification
from stylelicense.provenance import watermark as wm
from stylelicense.provenance.serials import format_serial
from workers.pipelines.signing import read_metadata, stamp_signature
from workers.provenance import output_stage

from .conftest import KEY, make_picture, tamper_png_pixels

SERIAL = 0x3141_5926_5358_9793
LICENCE = {
    "artist_name": "Hana Kim",
    "style_title": "Ink Garden",
    "style_id": 42,
    "generation_id": 7,
    "licence_url": "https://stylelicense.example/licences/" + format_serial(SERIAL),
    "terms_version": "sl-1.0",
    "buyer": "minsu",
    "created_at": "2025-03-01T12:00:00Z",
}


@pytest.fixture(scope="module")
def output(dev_chain):
    stamped = stamp_signature(make_picture(512, 512, seed=31), signature=None, artist_name="Hana Kim", seed=5)
    data, record = output_stage.apply_provenance(
        stamped,
        serial=SERIAL,
        licence=LICENCE,
        key=KEY,
        c2pa_chain=dev_chain.cert_chain.read_bytes(),
        c2pa_key=dev_chain.signing_key.read_bytes(),
    )
    return data, record


class Registry:
    """An in-memory stand-in for the licences table and storage."""

    def __init__(self):
        self.records: dict[int, dict] = {}
        self.images: dict[int, bytes] = {}
        self.lookups: list[int] = []

    def add(self, data: bytes, record: output_stage.ProvenanceRecord) -> None:
        self.records[record.serial] = record.as_dict()
        self.images[record.serial] = data

    def lookup(self, serial: int) -> dict | None:
        self.lookups.append(serial)
        return self.records.get(serial)

    def candidates(self, phash: int, dhash: int):
        rows = [(s, p, d) for s, r in self.records.items() for p, d in (r["windows"] or [(r["phash"], r["dhash"])])]
        for serial, distance in verification.shortlist(rows, phash, dhash):
            yield verification.Candidate(
                serial=serial,
                distance=distance,
                load_image=lambda s=serial: Image.open(io.BytesIO(self.images[s])).convert("RGB"),
            )


@pytest.fixture()
def registry(output):
    reg = Registry()
    reg.add(*output)
    # A neighbour in the same style, so the shortlist has to choose.
    other = wm.embed_serial(make_picture(512, 512, seed=32), 0x0BAD_CAFE_0000_0001, KEY)
    buf = io.BytesIO()
    other.save(buf, "PNG")
    reg.add(
        buf.getvalue(),
        output_stage.ProvenanceRecord(
            0x0BAD_CAFE_0000_0001, hashes.sha256_hex(buf.getvalue()), hashes.phash(other), hashes.dhash(other)
        ),
    )
    return reg


def verify(data: bytes, registry: Registry, anchors: bytes | None = None) -> verification.Verdict:
    return verification.verify_image(
        data,
        key=KEY,
        lookup_by_serial=registry.lookup,
        candidates_by_hash=registry.candidates,
        trust_anchors_pem=anchors,
    )


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def test_output_carries_every_layer(output, dev_chain):
    data, record = output
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (512, 512)
    assert wm.decode_serial(image.convert("RGB"), KEY) == SERIAL
    meta = read_metadata(data)
    assert meta["xmp"]["licence_serial"] == format_serial(SERIAL)
    assert meta["xmp"]["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert meta["exif"]["Artist"] == "Hana Kim"
    manifest = c2pa_manifest.read_c2pa(data, trust_anchors_pem=dev_chain.root_cert.read_bytes())
    assert manifest["trusted"] and manifest["licence"]["licence_serial"] == format_serial(SERIAL)
    assert record.serial == SERIAL and record.sha256 == hashes.sha256_hex(data)
    assert record.phash == hashes.phash(image.convert("RGB"))


def test_untouched_file_is_verified_by_its_manifest(output, registry, dev_chain):
    data, _ = output
    verdict = verify(data, registry, dev_chain.root_cert.read_bytes())
    assert (verdict.verdict, verdict.method, verdict.serial, verdict.confidence) == ("verified", "c2pa", SERIAL, 1.0)
    assert verdict.record["sha256"] == hashes.sha256_hex(data)


def test_untouched_file_without_our_root_is_verified_by_its_hash(output, registry):
    data, _ = output
    verdict = verify(data, registry)
    assert (verdict.verdict, verdict.method, verdict.serial) == ("verified", "sha256", SERIAL)
    assert verdict.c2pa["valid"] and not verdict.c2pa["trusted"]


def test_stripped_reencoded_copy_is_derived(output, registry):
    data, _ = output
    copy = encode(Image.open(io.BytesIO(data)).convert("RGB"), "JPEG", quality=80)
    assert read_metadata(copy)["xmp"] == {} and c2pa_manifest.read_c2pa(copy) is None
    verdict = verify(copy, registry)
    assert (verdict.verdict, verdict.method, verdict.serial) == ("derived", "watermark", SERIAL)


def test_half_size_copy_is_derived_after_resizing(output, registry):
    data, _ = output
    small = Image.open(io.BytesIO(data)).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS)
    verdict = verify(encode(small, "PNG"), registry)
    assert (verdict.verdict, verdict.method, verdict.serial) == ("derived", "watermark-resized", SERIAL)
    # Shrunk *and* re-encoded: the blind read may fail, the hash shortlist still finds the licence.
    verdict = verify(encode(small, "WEBP", quality=70), registry)
    assert (verdict.verdict, verdict.serial) == ("derived", SERIAL)


def test_cropped_copy_is_derived_through_registration(output, registry):
    data, _ = output
    image = Image.open(io.BytesIO(data)).convert("RGB")
    crop = image.crop((9, 14, 9 + 446, 14 + 440))  # 25 % of the area, signature corner included
    verdict = verify(encode(crop, "JPEG", quality=85), registry)
    assert (verdict.verdict, verdict.method, verdict.serial) == ("derived", "registration", SERIAL)
    assert wm.MATCH_MIN_AGREEING / wm.PAYLOAD_BITS <= verdict.confidence <= 1.0


def test_tampered_signed_file_falls_back_to_the_watermark(output, registry, dev_chain):
    data, _ = output
    tampered = tamper_png_pixels(data)
    assert Image.open(io.BytesIO(tampered)).tobytes() != Image.open(io.BytesIO(data)).tobytes()
    verdict = verify(tampered, registry, dev_chain.root_cert.read_bytes())
    assert verdict.c2pa["validation_state"] == "Invalid" and not verdict.c2pa["trusted"]
    assert (verdict.verdict, verdict.method, verdict.serial) == ("derived", "watermark", SERIAL)


def test_unrelated_image_is_unknown(registry):
    verdict = verify(encode(make_picture(512, 512, seed=33), "PNG"), registry)
    assert (verdict.verdict, verdict.serial, verdict.method, verdict.confidence) == ("unknown", None, None, 0.0)


def test_mark_for_a_serial_we_never_issued_is_unknown(registry):
    foreign = wm.embed_serial(make_picture(512, 512, seed=34), 0x7777_0000_1111_2222, KEY)
    assert wm.decode_serial(foreign, KEY) == 0x7777_0000_1111_2222  # the tag itself is fine
    verdict = verify(encode(foreign, "PNG"), registry)
    assert verdict.verdict == "unknown" and 0x7777_0000_1111_2222 in registry.lookups


def test_blind_views_follow_the_generation_sizes():
    square = [m for m, _ in verification.blind_views(Image.new("RGB", (300, 300)))]
    assert square == ["watermark", "watermark-resized", "watermark-resized"]
    portrait = [v.size for _, v in verification.blind_views(Image.new("RGB", (256, 512)))]
    assert portrait == [(256, 512), (512, 1024)]
    assert [v.size for _, v in verification.blind_views(Image.new("RGB", (1024, 1024)))] == [(1024, 1024), (512, 512)]


def test_display_copy_is_a_small_webp_that_keeps_the_mark_and_the_rights(output):
    """SPEC §13 Display copy: pages get a WebP a fraction of the PNG's size, still signed and marked."""
    data, _ = output
    copy = output_stage.display_copy(data)
    image = Image.open(io.BytesIO(copy))
    assert image.format == "WEBP" and image.size == (512, 512)
    assert len(copy) < len(data) / 4
    assert wm.decode_serial(image.convert("RGB"), KEY) == SERIAL
    assert read_metadata(copy)["xmp"]["licence_serial"] == format_serial(SERIAL)
