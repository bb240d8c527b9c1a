"""Training-image safeguards at ``POST /api/styles`` (SPEC §13): images reserved from AI training
(XMP ``plus:DataMining``, C2PA ``c2pa.training-mining``) answer 422 TRAINING_NOT_ALLOWED, images
another artist registered or the platform generated answer 409 IMAGE_ALREADY_REGISTERED — each with
the file's index, and nothing stored, queued or charged."""

from __future__ import annotations

import io

import c2pa
import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import func, select

from stylelicense.extensions import db
from stylelicense.provenance import c2pa_manifest
from stylelicense.styles import safeguards
from stylelicense.styles.models import ImageFingerprint
from stylelicense.users.models import User
from tests.test_styles_helpers import post_style, queued_training_jobs, row_counts, stored_files

_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="{value}"/>'
    "</rdf:RDF></x:xmpmeta>"
)
_XMP_ELEMENT = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"><plus:DataMining '
    'rdf:resource="{value}"/></rdf:Description></rdf:RDF></x:xmpmeta>'
)
_VOCAB = "http://ns.useplus.org/ldf/vocab/"


def artwork(seed: int, size: tuple[int, int] = (640, 600)) -> Image.Image:
    """A distinct picture per seed: smooth colour fields with a few hard-edged shapes."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(base).copy()
    for _ in range(4):
        x, y = rng.integers(0, size[0] - 120), rng.integers(0, size[1] - 120)
        pixels[y : y + rng.integers(40, 120), x : x + rng.integers(40, 120)] = rng.integers(0, 256, 3)
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def artworks(first_seed: int, count: int = 10) -> list[bytes]:
    return [encode(artwork(first_seed + i)) for i in range(count)]


def c2pa_reserved(data: bytes, chain) -> bytes:
    manifest = {
        "claim_generator_info": [{"name": "camera app", "version": "1"}],
        "title": "photo.jpg",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            },
            {
                "label": "c2pa.training-mining",
                "data": {
                    "entries": {
                        "c2pa.ai_generative_training": {"use": "notAllowed"},
                        "c2pa.ai_training": {"use": "notAllowed"},
                        "c2pa.data_mining": {"use": "allowed"},
                    }
                },
            },
        ],
    }
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, chain.cert_chain.read_bytes(), chain.signing_key.read_bytes(), None
    )
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        out = io.BytesIO()
        builder.sign(signer, "image/jpeg", io.BytesIO(data), out)
    return out.getvalue()


def _fingerprints(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ImageFingerprint))


def _assert_refused(app, response, status: int, code: str, index: int, before_files, before_rows, before_prints):
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["details"]["index"] == index
    assert stored_files(app) == before_files
    assert row_counts(app) == before_rows
    assert _fingerprints(app) == before_prints
    assert queued_training_jobs() == []


@pytest.mark.parametrize(
    "case", ["jpeg-attribute-aiml", "png-itxt-element-all", "png-compressed-genai", "c2pa-not-allowed"]
)
def test_images_reserved_from_ai_training_are_refused_with_their_index(app, client, make_artist, tmp_path, case):
    make_artist(client, "reserver")
    images = artworks(100)
    picture = artwork(999)
    if case == "jpeg-attribute-aiml":
        reserved = encode(picture, "JPEG", xmp=_XMP.format(value=_VOCAB + "DMI-PROHIBITED-AIMLTRAINING").encode())
    elif case.startswith("png"):
        template = _XMP_ELEMENT if "element" in case else _XMP
        value = _VOCAB + ("DMI-PROHIBITED" if case.endswith("all") else "DMI-PROHIBITED-GENAIMLTRAINING")
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", template.format(value=value), zip="compressed" in case)
        reserved = encode(picture, "PNG", pnginfo=info)
    else:
        reserved = c2pa_reserved(encode(picture, "JPEG", quality=92), c2pa_manifest.generate_dev_chain(tmp_path))
    images[6] = reserved
    queued_training_jobs()
    before = (stored_files(app), row_counts(app), _fingerprints(app))
    response = post_style(client, images)
    _assert_refused(app, response, 422, "TRAINING_NOT_ALLOWED", 6, *before)


def test_an_allowed_or_unspecified_data_mining_value_is_accepted(app, client, make_artist):
    make_artist(client, "allower")
    images = artworks(200)
    images[0] = encode(artwork(200), "JPEG", xmp=_XMP.format(value=_VOCAB + "DMI-ALLOWED").encode())
    images[1] = encode(artwork(201), "JPEG", xmp=_XMP.format(value=_VOCAB + "DMI-UNSPECIFIED").encode())
    response = post_style(client, images)
    assert response.status_code == 201, response.get_json()
    assert _fingerprints(app) == 10 * len(safeguards.WINDOW_AXIS) ** 2


def test_another_artists_image_is_refused_even_re_encoded_resized_and_cropped(app, client, make_client, make_artist):
    make_artist(client, "original")
    assert post_style(client, artworks(300)).status_code == 201
    queued_training_jobs()

    copier = make_client()
    make_artist(copier, "copier")
    stolen = artwork(304)
    w, h = stolen.size
    copy = stolen.crop((round(w * 0.04), round(h * 0.03), w, h)).resize((560, 520), Image.Resampling.BILINEAR)
    images = artworks(400)
    images[8] = encode(copy, "JPEG", quality=80)
    before = (stored_files(app), row_counts(app), _fingerprints(app))
    response = post_style(copier, images)
    _assert_refused(app, response, 409, "IMAGE_ALREADY_REGISTERED", 8, *before)
    assert response.get_json()["error"]["details"]["registered_as"] == "artwork"

    # Unrelated pictures of the copier go through.
    assert post_style(copier, artworks(500)).status_code == 201


def test_a_platform_output_is_refused_for_everyone(app, client, make_artist):
    output = artwork(700)
    with app.app_context():
        safeguards.register_output(safeguards.hash_upload(output).windows)
        db.session.commit()
    make_artist(client, "trainer")
    images = artworks(600)
    images[2] = encode(output.resize((800, 750)), "JPEG", quality=85)
    queued_training_jobs()
    before = (stored_files(app), row_counts(app), _fingerprints(app))
    response = post_style(client, images)
    _assert_refused(app, response, 409, "IMAGE_ALREADY_REGISTERED", 2, *before)
    assert response.get_json()["error"]["details"]["registered_as"] == "output"


def test_an_artists_own_images_never_match_their_own_fingerprints(app, db_session):
    from tests import factories

    owner = factories.create_artist("selfie")
    other = factories.create_artist("someone")
    style = factories.create_style(owner)
    upload = safeguards.hash_upload(artwork(800))
    safeguards.register_artworks([upload], owner.artist.id, style.id)
    db.session.flush()
    safeguards.check_not_registered(upload, 0, owner.artist.id)  # no error: their own image
    with pytest.raises(safeguards.ImageAlreadyRegistered):
        safeguards.check_not_registered(upload, 0, other.artist.id)
    assert db.session.get(User, owner.id) is not None


def test_flat_pictures_are_neither_registered_nor_refused(db_session):
    flat = safeguards.hash_upload(Image.new("RGB", (600, 600), (120, 130, 140)))
    assert flat.informative is False
    assert safeguards.hash_upload(artwork(1)).informative is True
