"""Licences end to end through the API: issued with the generation, filled in by the worker's report,
shown as a certificate (private ones to their owner only), and found again by POST /api/verify."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.generations.operations import build_payload
from stylelicense.provenance import c2pa_manifest
from stylelicense.provenance.hashes import from_signed
from stylelicense.provenance.models import Licence, LicenceHash
from stylelicense.provenance.serials import format_serial
from stylelicense.provenance.terms import CURRENT_TERMS_VERSION
from stylelicense.storage import get_storage
from tests import factories
from tests.conftest import INTERNAL_TOKEN
from workers.pipelines.signing import ImageLicense, read_metadata
from workers.provenance.output_stage import finish_output

from .conftest import make_picture, tamper_png_pixels

HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "inference-server"}


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, fmt, **options)
    return buf.getvalue()


def _worker(
    app,
    client,
    generation_id: int,
    dev_chain,
    *,
    seed: int = 41,
    report_serial: int | None = None,
    picture=make_picture,
):
    """What the inference worker does after generating: the output stage with the deployment's keys
    (here: the key derived from the shared internal token, and the dev chain), upload, complete."""
    with app.app_context():
        generation = db.session.get(Generation, generation_id)
        payload = build_payload(generation, generation.style, generation.user)
        db.session.commit()
    env = {
        "STYLELICENSE_ENV": "testing",
        "INTERNAL_API_TOKEN": INTERNAL_TOKEN,
        c2pa_manifest.KEY_PATH_ENV: str(dev_chain.signing_key),
        c2pa_manifest.CHAIN_PATH_ENV: str(dev_chain.cert_chain),
    }
    lic = ImageLicense(
        artist_name=payload.artist_name,
        style_title=payload.style_title,
        style_id=str(payload.style_id),
        generation_id=str(payload.generation_id),
        licence_url=payload.licence_url,
        buyer=payload.extra["buyer"],
        created_at=payload.extra["created_at"],
    )
    png, thumbnail, report = finish_output(
        picture(payload.width, payload.height, seed=seed),
        signature=None,
        lic=lic,
        seed=payload.seed,
        serial=payload.licence_serial,
        terms_version=payload.terms_version,
        certificate_url=payload.certificate_url,
        env=env,
    )
    with app.app_context():
        storage = get_storage()
        storage.put(payload.result_key, png, public=True, content_type="image/png")
        storage.put(payload.thumbnail_key, thumbnail, public=True, content_type="image/webp")
    if report_serial is not None:
        report = {**report, "serial": report_serial}
    response = client.post(
        "/api/webhooks/inference/complete",
        headers=HEADERS,
        csrf=False,
        json={
            "generation_id": generation_id,
            "result_key": payload.result_key,
            "thumbnail_key": payload.thumbnail_key,
            "provenance": report,
        },
    )
    return SimpleNamespace(png=png, payload=payload, report=report, response=response)


@pytest.fixture
def world(app, client, make_client, login):
    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(
            artist, title="Ink Wash", lora_key="styles/1/lora.safetensors", generation_cost_tokens=10
        )
        db.session.commit()
        style_id = style.id
    login(client, "buyer")
    stranger = make_client()
    login(stranger, "stranger")
    return SimpleNamespace(owner=client, stranger=stranger, anonymous=make_client(), style_id=style_id)


def _generate(world) -> int:
    response = world.owner.post(
        "/api/generations", json={"style_id": world.style_id, "prompt_tags": ["cat"], "aspect_ratio": "1:1"}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]["id"]


@pytest.fixture
def delivered(app, world, dev_chain):
    generation_id = _generate(world)
    done = _worker(app, world.owner, generation_id, dev_chain)
    assert done.response.status_code == 200, done.response.get_json()
    return SimpleNamespace(generation_id=generation_id, serial=format_serial(done.payload.licence_serial), **vars(done))


def test_licence_is_issued_with_the_generation_and_sent_to_the_worker(app, world):
    generation_id = _generate(world)
    with app.app_context():
        licence = db.session.scalar(select(Licence).where(Licence.generation_id == generation_id))
        assert licence is not None and licence.sha256 is None  # issued, not delivered yet
        assert licence.terms_version == CURRENT_TERMS_VERSION
        assert (licence.artist_name, licence.style_title) == ("Painter Pat", "Ink Wash")
        generation = db.session.get(Generation, generation_id)
        payload = build_payload(generation, generation.style, generation.user)
        assert payload.licence_serial == licence.serial  # the same licence on a re-sent job
        assert payload.certificate_url.endswith(f"/licences/{format_serial(licence.serial)}")
    # Undelivered: no certificate yet, even for the owner.
    assert world.owner.get(f"/api/licences/{format_serial(licence.serial)}").status_code == 404


def test_delivery_stores_the_file_hashes(app, delivered):
    with app.app_context():
        licence = db.session.scalar(select(Licence).where(Licence.generation_id == delivered.generation_id))
        assert licence.sha256 == delivered.report["sha256"] and licence.delivered_at is not None
        assert from_signed(licence.phash) == delivered.report["phash"]
        windows = db.session.scalars(select(LicenceHash).where(LicenceHash.licence_id == licence.id)).all()
        assert len(windows) == 16 and (from_signed(windows[0].phash), from_signed(windows[0].dhash)) == (
            delivered.report["phash"],
            delivered.report["dhash"],
        )
        assert from_signed(licence.dhash) == delivered.report["dhash"]
    assert delivered.report["c2pa"] is True
    manifest = c2pa_manifest.read_c2pa(delivered.png)
    assert manifest["valid"] and manifest["licence"]["licence_serial"] == delivered.serial
    assert manifest["licence"]["certificate_url"] == delivered.payload.certificate_url


def test_a_report_for_another_serial_is_refused(app, world, dev_chain):
    generation_id = _generate(world)
    done = _worker(app, world.owner, generation_id, dev_chain, report_serial=12345)
    assert done.response.status_code == 422
    with app.app_context():
        assert db.session.get(Generation, generation_id).status != "completed"


def test_private_certificate_only_for_its_owner(app, world, delivered):
    url = f"/api/licences/{delivered.serial}"
    mine = world.owner.get(url)
    assert mine.status_code == 200
    cert = mine.get_json()["data"]
    assert cert["serial"] == delivered.serial and cert["status"] == "valid"
    assert cert["artist"]["name"] == "Painter Pat" and cert["style"]["name"] == "Ink Wash"
    assert cert["terms"]["version"] == CURRENT_TERMS_VERSION and "commercial_use" in cert["terms"]["permissions"]
    assert "train_models" in cert["terms"]["prohibitions"]
    assert cert["licensed_to"] == "buyer" and cert["is_public"] is False
    assert cert["sha256"] == delivered.report["sha256"]
    assert cert["thumbnail_url"] and "result_url" not in cert
    for other in (world.stranger, world.anonymous):
        for path in (url, f"/api/generations/{delivered.generation_id}/licence"):
            response = other.get(path)
            assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    assert world.owner.get(f"/api/generations/{delivered.generation_id}/licence").get_json()["data"] == cert
    # Published: everyone sees the certificate.
    assert world.owner.patch(f"/api/generations/{delivered.generation_id}", json={"is_public": True}).status_code == 200
    public = world.anonymous.get(url)
    assert public.status_code == 200 and public.get_json()["data"]["is_public"] is True
    assert world.anonymous.get("/api/licences/not-a-serial").status_code == 404
    assert world.anonymous.get("/api/licences/SL-0000-0000-0000-0001").status_code == 404


def _verify(client, data: bytes, name: str = "copy.png"):
    return client.post("/api/verify", data={"image": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_certificate_names_the_licensee_as_they_were_when_it_was_issued(app, world, delivered, dev_chain):
    renamed = world.owner.patch("/api/users/me", json={"username": "renamed_later"})
    assert renamed.status_code == 200, renamed.get_json()
    assert world.owner.get("/api/auth/me").get_json()["data"]["username"] == "renamed_later"
    cert = world.owner.get(f"/api/licences/{delivered.serial}").get_json()["data"]
    assert cert["licensed_to"] == "buyer"  # who the licence was issued to, as the delivered file says
    assert read_metadata(delivered.png)["xmp"]["licensee"] == "buyer"
    with app.app_context():  # a re-sent job writes the same name into the file
        generation = db.session.get(Generation, delivered.generation_id)
        assert build_payload(generation, generation.style, generation.user).extra["buyer"] == "buyer"
        db.session.rollback()
    later = _worker(app, world.owner, _generate(world), dev_chain)  # issued after the rename: the new name
    serial = format_serial(later.payload.licence_serial)
    assert world.owner.get(f"/api/licences/{serial}").get_json()["data"]["licensed_to"] == "renamed_later"


def test_verify_the_untouched_file(app, world, delivered, dev_chain, monkeypatch):
    monkeypatch.setitem(app.config, "C2PA_TRUST_ANCHORS_PATH", str(dev_chain.root_cert))
    mine = _verify(world.owner, delivered.png).get_json()["data"]
    assert (mine["verdict"], mine["confidence"], mine["method"]) == ("verified", 1.0, "c2pa")
    assert mine["licence"]["serial"] == delivered.serial and mine["private_licence"] is False
    assert mine["c2pa"]["trusted"] is True
    # Without our root configured, the stored hash still proves it is the untouched file.
    monkeypatch.setitem(app.config, "C2PA_TRUST_ANCHORS_PATH", None)
    assert _verify(world.owner, delivered.png).get_json()["data"]["method"] == "sha256"


def test_verify_tells_anonymous_callers_less(app, world, delivered):
    copy = _encode(Image.open(io.BytesIO(delivered.png)), "JPEG", quality=80)
    private = _verify(world.anonymous, copy).get_json()["data"]
    assert private == {"verdict": "derived", "confidence": 1.0, "licence": None, "private_licence": True}
    assert _verify(world.stranger, copy).get_json()["data"]["licence"] is None
    world.owner.patch(f"/api/generations/{delivered.generation_id}", json={"is_public": True})
    public = _verify(world.anonymous, copy).get_json()["data"]
    assert public["verdict"] == "derived" and public["licence"]["serial"] == delivered.serial
    assert public["licence"]["artist"]["name"] == "Painter Pat"
    assert "method" not in public and "c2pa" not in public
    signed_in = _verify(world.stranger, copy).get_json()["data"]
    assert signed_in["method"] == "watermark" and signed_in["c2pa"] is None


def test_verify_finds_a_crop_through_the_stored_original(app, world, delivered):
    world.owner.patch(f"/api/generations/{delivered.generation_id}", json={"is_public": True})
    image = Image.open(io.BytesIO(delivered.png)).convert("RGB")
    crop = _encode(image.crop((11, 7, 11 + 446, 7 + 440)), "WEBP", quality=85)  # signature corner gone
    result = _verify(world.stranger, crop).get_json()["data"]
    assert (result["verdict"], result["method"]) == ("derived", "registration")
    assert result["licence"]["serial"] == delivered.serial


def test_verify_tampered_signed_file_is_not_verified(app, world, delivered, dev_chain, monkeypatch):
    monkeypatch.setitem(app.config, "C2PA_TRUST_ANCHORS_PATH", str(dev_chain.root_cert))
    result = _verify(world.owner, tamper_png_pixels(delivered.png)).get_json()["data"]
    assert result["verdict"] == "derived" and result["c2pa"]["validation_state"] == "Invalid"


def test_verify_unrelated_and_invalid_uploads(app, world, delivered):
    unrelated = _verify(world.anonymous, _encode(make_picture(512, 512, seed=77), "PNG")).get_json()["data"]
    assert unrelated == {"verdict": "unknown", "confidence": 0.0, "licence": None, "private_licence": False}
    bad = _verify(world.anonymous, b"GIF89a not really")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "INVALID_IMAGE_FORMAT"
    tiny = _verify(world.anonymous, _encode(Image.new("RGB", (20, 20)), "PNG"))
    assert tiny.get_json()["error"]["code"] == "INVALID_IMAGE_FORMAT"
    missing = world.anonymous.post("/api/verify", data={}, content_type="multipart/form-data")
    assert missing.get_json()["error"]["code"] == "INVALID_IMAGE_FORMAT"


def test_verify_is_rate_limited(app, database_url, tmp_path, login):
    from stylelicense.app import create_app
    from stylelicense.extensions import limiter
    from tests.conftest import ApiClient, base_env

    limited = create_app(env=base_env(tmp_path, database_url, RATELIMIT_ENABLED="1"), RATELIMIT_VERIFY="2 per minute")
    limited.test_client_class = ApiClient
    try:
        anonymous = limited.test_client()
        image = _encode(make_picture(128, 128, seed=5), "PNG")
        statuses = [_verify(anonymous, image).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        limiter.init_app(app)  # the limiter is shared: give it back to the session app


def test_operator_commands(app, delivered, tmp_path):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["provenance", "init-certs", "--out", str(tmp_path / "chain")])
    assert made.exit_code == 0, made.output
    assert "C2PA_SIGNING_KEY_PATH=" in made.output and (tmp_path / "chain" / "c2pa-root.pem").exists()
    again = runner.invoke(args=["provenance", "init-certs", "--out", str(tmp_path / "chain")])
    assert again.exit_code != 0  # an existing chain is not overwritten by accident
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_encode(Image.open(io.BytesIO(delivered.png)), "JPEG", quality=75))
    result = runner.invoke(args=["provenance", "verify", str(copy)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("derived") and delivered.serial in result.output and "Painter Pat" in result.output
    unrelated = tmp_path / "other.png"
    unrelated.write_bytes(_encode(make_picture(256, 256, seed=78), "PNG"))
    assert runner.invoke(args=["provenance", "verify", str(unrelated)]).output.startswith("unknown")


# Routes of the SPA, read from its router (the catch-all "not found" route excluded).
_ROUTER = Path(__file__).resolve().parents[2] / "frontend" / "src" / "router" / "index.js"


def _spa_route_patterns() -> list[re.Pattern]:
    paths = re.findall(r"(?:path|alias): '([^']+)'", _ROUTER.read_text())
    patterns = []
    for path in paths:
        if "pathMatch" in path:
            continue
        regex = re.sub(r"/:\w+\?", "(?:/[^/]+)?", path)
        regex = re.sub(r":\w+", "[^/]+", regex)
        patterns.append(re.compile(f"^{regex}$"))
    return patterns


def test_every_url_written_into_a_file_opens_a_real_page(app, world, delivered):
    """The terms URL and the certificate URL in the file's XMP, EXIF and C2PA manifest are pages of
    this site (a route of the SPA, served with 200), not "Page not found"."""
    image = Image.open(io.BytesIO(delivered.png))
    texts = [image.info.get("XML:com.adobe.xmp", ""), *map(str, image.getexif().values())]
    manifest = c2pa_manifest.read_c2pa(delivered.png)
    texts.append(json.dumps(manifest.get("licence") or {}))
    urls = set(re.findall(r"https?://[^\s\"'<>]+", "\n".join(texts)))
    with app.app_context():
        base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    urls = {u.rstrip(".,;)") for u in urls if u.startswith(base)}
    paths = {u[len(base) :] for u in urls}
    assert f"/licence-terms/{CURRENT_TERMS_VERSION}" in paths
    assert f"/licences/{delivered.serial}" in paths
    patterns = _spa_route_patterns()
    for path in paths:
        assert any(p.match(path) for p in patterns), f"{path} is no page of the SPA"
        assert world.anonymous.get(path).status_code == 200, path
    # The certificate links the same terms page.
    cert = world.owner.get(f"/api/licences/{delivered.serial}").get_json()["data"]
    assert cert["terms"]["url"] == f"{base}/licence-terms/{CURRENT_TERMS_VERSION}"
