"""End to end: the API over real HTTP, RabbitMQ, a real `celery -A workers worker` process on the tiny
model, signing and storage — with injected faults (STYLELICENSE_FAULTS) and a SIGKILLed worker.

The LoRA is trained once per session with the real training code; the unsigned reference image is
rendered here with the same pipeline code the worker runs, so "the stored image is signed" is checked
pixel by pixel, not taken on trust.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from kombu import Connection
from PIL import Image, ImageDraw
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.notifications.models import Notification
from stylelicense.storage import get_storage
from stylelicense.tokens import ledger, ledger_audit
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import User
from tests import factories
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STEPS = 8
TRIGGER = "ink wash"
WORKER_ENV = {"GENERATION_STEPS": str(STEPS), "GENERATION_RETRY_DELAYS": "0,1,1", "GENERATION_PROGRESS_INTERVAL": "0"}


@pytest.fixture(scope="session")
def lora_bytes(tmp_path_factory) -> bytes:
    """A real LoRA, trained for a few steps on the tiny model (once per session)."""
    from workers.pipelines.training import TrainingConfig, train_lora

    rng = np.random.default_rng(0)
    images = []
    for i in range(4):
        image = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 255, 3)))
        ImageDraw.Draw(image).ellipse((10 + i * 5, 10, 70, 80), fill=("red", "blue", "green", "black")[i])
        images.append((image, ["circle"]))
    result = train_lora(
        "tiny",
        images,
        TRIGGER,
        tmp_path_factory.mktemp("lora"),
        config=TrainingConfig(resolution=64, max_steps=4, epochs=2, learning_rate=2e-3),
        seed=0,
    )
    return result.lora_path.read_bytes()


def _signature_png() -> bytes:
    """A transparent PNG with dark ink strokes, like an uploaded signature."""
    signature = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    ImageDraw.Draw(signature).line([(10, 100), (80, 20), (150, 90), (290, 30)], fill=(0, 0, 0, 255), width=10)
    buffer = io.BytesIO()
    signature.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def shop(live_app, lora_bytes, login, rabbitmq_url):
    """An artist with a trained style whose LoRA and signature are in private storage, and a signed-in buyer."""
    with Connection(rabbitmq_url) as connection:  # a failed earlier test must not leave jobs behind
        try:
            connection.default_channel.queue_purge("image_generation")
        except connection.channel_errors:
            pass  # no queue yet: nothing to purge
    with live_app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(artist, title="Ink Wash", trigger=TRIGGER, generation_cost_tokens=10)
        style.lora_key = f"styles/{style.id}/lora.safetensors"
        broken = factories.create_style(
            artist, title="Lost Model", generation_cost_tokens=10, lora_key="styles/missing/lora.safetensors"
        )
        storage = get_storage()
        storage.put(style.lora_key, lora_bytes)
        storage.put(artist.artist.signature_image_key, _signature_png())
        db.session.commit()
        ids = SimpleNamespace(style_id=style.id, broken_style_id=broken.id, artist_user_id=artist.id)
    root = Path(live_app.config["STORAGE_URL"][len("file://") :])
    for folder in (root / "public" / "generations", root / "private" / "generations"):
        shutil.rmtree(folder, ignore_errors=True)  # ids restart with every test; the storage does not
    buyer = live_app.test_client()
    login(buyer, "buyer")
    return SimpleNamespace(client=buyer, storage_root=root, **vars(ids))


def _create(shop, style_id=None, **extra) -> dict:
    response = shop.client.post(
        "/api/generations",
        json={"style_id": style_id or shop.style_id, "prompt_tags": ["woman", "portrait"], "seed": 7, **extra},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def _follow(shop, generation_id, *, until=("completed", "failed"), timeout=240.0, worker=None) -> tuple[dict, list]:
    """Poll the API as the browser does; returns the final payload and every (status, step) seen."""
    seen: list[tuple[str, int | None]] = []

    def check():
        data = shop.client.get(f"/api/generations/{generation_id}").get_json()["data"]
        step = (data["progress"] or {}).get("current_step")
        if not seen or seen[-1] != (data["status"], step):
            seen.append((data["status"], step))
        return data if data["status"] in until else None

    try:
        return wait_for(check, timeout=timeout, interval=0.05, message=f"generation {generation_id} in {until}"), seen
    except AssertionError:
        if worker is not None:
            print(worker.output())
        raise


def _ledger(app, generation_id):
    with app.app_context():
        keys = db.session.scalars(
            select(Transaction.idempotency_key)
            .where(Transaction.related_generation_id == generation_id)
            .order_by(Transaction.id)
        ).all()
        notes = db.session.scalars(select(Notification.type).where(Notification.target_id == generation_id)).all()
        buyer = db.session.scalar(select(User).where(User.username == "buyer"))
        painter = db.session.scalar(select(User).where(User.username == "painter"))
        return SimpleNamespace(
            movements=[key.split(":")[0] for key in keys],
            notifications=sorted(notes),
            balance=buyer.token_balance,
            earned=painter.artist.earned_token_balance,
            drift=ledger_audit.verify_ledger(),
            attempts=db.session.get(Generation, generation_id).attempts,
        )


# A delivered generation keeps three files: the signed PNG, its thumbnail and the web-sized display copy.
DELIVERED_FILES = 3


def _files(root: Path, generation_id: int) -> list[str]:
    """Every stored object of this generation, public or private."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and f"generations/{generation_id}/" in str(path.relative_to(root))
    )


def _unsigned_render(lora_bytes: bytes, data: dict) -> Image.Image:
    """What the worker's pipeline produces before the output stage (same code, same seed)."""
    from workers.pipelines.inference import InferenceEngine, build_prompt

    engine = InferenceEngine("tiny", device="cpu")
    return engine.generate(
        lora_key="reference",
        lora_loader=lambda: lora_bytes,
        prompt=build_prompt(TRIGGER, data["prompt_tags"]),
        width=data["width"],
        height=data["height"],
        seed=data["seed"],
        steps=STEPS,
        guidance_scale=7.5,
    )


def test_post_progress_completed_signed_with_metadata_paid_once(
    live_app, start_worker, shop, lora_bytes, make_client, login
):
    from workers.pipelines.signing import DIGITAL_SOURCE_TYPE, read_metadata, signature_box

    worker = start_worker("image_generation", **WORKER_ENV)
    posted = time.monotonic()
    created = _create(shop)
    assert created["status"] == "queued"
    data, seen = _follow(shop, created["id"], worker=worker)
    elapsed = time.monotonic() - posted
    assert data["status"] == "completed", (data, worker.output())
    steps_seen = [step for status, step in seen if status == "processing" and step]
    assert steps_seen and max(steps_seen) <= STEPS, seen  # live progress was visible while it ran
    assert data["attempts"] == 1 and data["progress"] is None
    print(f"\nPOST → completed on the tiny model ({STEPS} steps, 512×512): {elapsed:.1f} s")

    signed_bytes = shop.client.get(data["result_url"]).data
    signed = Image.open(io.BytesIO(signed_bytes))
    assert signed.format == "PNG" and signed.size == (512, 512)

    # The signature: pixels inside its box differ from the unsigned render of the same seed, the
    # rest of the picture is that render plus the invisible watermark (a level or two per pixel).
    reference = np.asarray(_unsigned_render(lora_bytes, data).convert("RGB"), dtype=np.int16)
    stored = np.asarray(signed.convert("RGB"), dtype=np.int16)
    left, top, right, bottom = signature_box(512, 512, data["seed"])
    inside = np.abs(stored[top:bottom, left:right] - reference[top:bottom, left:right]).max(axis=2)
    assert (inside > 30).mean() > 0.02, "no visible signature in its box"
    outside = np.ones((512, 512), dtype=bool)
    outside[top:bottom, left:right] = False
    assert np.abs(stored[outside] - reference[outside]).mean() < 3.0, "the image is not the render of this seed"
    from stylelicense.provenance import keys, watermark
    from stylelicense.provenance.serials import parse_serial
    from tests.conftest import INTERNAL_TOKEN

    serial = parse_serial(read_metadata(signed_bytes)["xmp"]["licence_serial"])
    mark_key = keys.watermark_key({"INTERNAL_API_TOKEN": INTERNAL_TOKEN})  # the development key derivation
    assert serial and watermark.decode_serial(signed.convert("RGB"), mark_key) == serial

    # The metadata, read back from the stored file (and its thumbnail).
    meta = read_metadata(signed_bytes)
    xmp = meta["xmp"]
    assert xmp["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert xmp["creator"] == ["Painter Pat"]
    assert xmp["generation_id"] == str(data["id"]) and xmp["style_id"] == str(shop.style_id)
    assert xmp["web_statement"] == data["licence_url"] and xmp["marked"] is True
    assert meta["exif"]["Artist"] == "Painter Pat" and "Painter Pat" in meta["exif"]["Copyright"]
    assert meta["text"]["StyleLicense:GenerationId"] == str(data["id"])
    thumbnail = shop.client.get(data["thumbnail_url"]).data
    assert read_metadata(thumbnail)["format"] == "WEBP"
    assert read_metadata(thumbnail)["xmp"]["generation_id"] == str(data["id"])

    # Only the signed outputs were kept, both private (the image is private by default; the worker's
    # public copies were moved away on delivery); nothing else of this generation exists.
    files = _files(shop.storage_root, data["id"])
    assert len(files) == DELIVERED_FILES and all(name.startswith("private/") for name in files), files
    assert "/media/private/" in data["result_url"] and "signature=" in data["result_url"]

    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.balance == 90 and facts.earned == 10 and facts.drift == []

    # Private by default: invisible to others until the owner makes it public, then in the feed.
    stranger = make_client()
    login(stranger, "stranger")
    assert stranger.get(f"/api/generations/{data['id']}").status_code == 404
    assert stranger.get("/api/generations/feed").get_json()["data"]["results"] == []
    assert shop.client.patch(f"/api/generations/{data['id']}", json={"is_public": True}).status_code == 200
    feed = stranger.get("/api/generations/feed").get_json()["data"]["results"]
    public_url = shop.client.get(f"/api/generations/{data['id']}").get_json()["data"]["result_url"]
    assert [item["id"] for item in feed] == [data["id"]] and feed[0]["result_url"] == public_url
    assert shop.client.get(public_url).data == signed_bytes  # moved to a new public key, same file
    assert shop.client.get(data["result_url"]).status_code in (403, 404)  # the private URL died
    files = _files(shop.storage_root, data["id"])
    assert len(files) == DELIVERED_FILES and all(name.startswith("public/") for name in files), files

    # A duplicated message for the finished generation: the worker asks first and does nothing.
    from stylelicense.generations.operations import build_payload
    from stylelicense.jobs.client import send_now
    from stylelicense.jobs.payloads import GENERATE_IMAGE

    with live_app.app_context():
        generation = db.session.get(Generation, data["id"])
        from dataclasses import asdict

        send_now(GENERATE_IMAGE, asdict(build_payload(generation, generation.style, generation.user)))
    wait_for(
        lambda: "is already completed; nothing to do" in worker.output(),
        timeout=60,
        message="the duplicate to be skipped",
    )
    assert _files(shop.storage_root, data["id"]) == files
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.attempts == 1 and facts.drift == []


def test_transient_error_succeeds_on_retry_and_is_charged_once(live_app, start_worker, shop):
    worker = start_worker("image_generation", **WORKER_ENV, STYLELICENSE_FAULTS="transient:1")
    data, _ = _follow(shop, _create(shop)["id"], worker=worker)
    assert data["status"] == "completed", worker.output()
    assert data["attempts"] == 2
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.balance == 90 and facts.earned == 10 and facts.drift == []
    assert "GPU_OUT_OF_MEMORY" in worker.output()


def test_transient_errors_on_every_attempt_refund_and_notify(live_app, start_worker, shop):
    # 1 attempt + 3 retries (countdowns 0, 1, 1 s here; 0, 30, 120 s in production), all failing.
    worker = start_worker("image_generation", **WORKER_ENV, STYLELICENSE_FAULTS="transient:4")
    data, seen = _follow(shop, _create(shop)["id"], worker=worker)
    assert data["status"] == "failed", worker.output()
    assert data["error_code"] == "GPU_OUT_OF_MEMORY" and data["attempts"] == 4
    assert "retrying" in [status for status, _ in seen], seen
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "refund"] and facts.notifications == ["generation_failed"]
    assert facts.balance == 100 and facts.earned == 0 and facts.drift == []
    assert _files(shop.storage_root, data["id"]) == []


def test_non_retryable_errors_fail_at_once_and_refund(live_app, start_worker, shop):
    worker = start_worker("image_generation", **WORKER_ENV, STYLELICENSE_FAULTS="fatal")
    data, seen = _follow(shop, _create(shop)["id"], worker=worker)
    assert data["status"] == "failed" and data["error_code"] == "INVALID_INPUT" and data["attempts"] == 1
    assert "retrying" not in [status for status, _ in seen]
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "refund"] and facts.notifications == ["generation_failed"]
    assert facts.balance == 100 and facts.drift == []


def test_missing_lora_fails_at_once_and_refunds(live_app, start_worker, shop):
    worker = start_worker("image_generation", **WORKER_ENV)
    data, _ = _follow(shop, _create(shop, style_id=shop.broken_style_id)["id"], worker=worker)
    assert data["status"] == "failed" and data["error_code"] == "MODEL_MISSING" and data["attempts"] == 1
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "refund"] and facts.balance == 100 and facts.drift == []


def test_worker_killed_mid_generation_is_redelivered_and_nothing_doubles(live_app, start_worker, shop):
    first = start_worker("image_generation", **WORKER_ENV, STYLELICENSE_FAULTS="sleep:120")
    created = _create(shop)
    running, _ = _follow(shop, created["id"], until=("processing",), worker=first)
    wait_for(
        lambda: (shop.client.get(f"/api/generations/{created['id']}").get_json()["data"]["progress"] or {}).get(
            "current_step", 0
        )
        >= 1,
        timeout=120,
        message="step 1",
    )
    first.kill()
    assert running["attempts"] == 1

    second = start_worker("image_generation", **WORKER_ENV)
    data, _ = _follow(shop, created["id"], worker=second)
    assert data["status"] == "completed", second.output()
    assert data["attempts"] == 2
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.balance == 90 and facts.earned == 10 and facts.drift == []
    files = _files(shop.storage_root, data["id"])
    # One pair of files, nothing doubled; private by default, so in the private location.
    assert len(files) == DELIVERED_FILES and all(name.startswith("private/") for name in files)


def test_task_called_directly_completes_once_and_skips_a_repeat(live_app, shop, e2e_env, monkeypatch):
    """The task function itself, in this process (no worker): same webhooks, same storage."""
    from dataclasses import asdict

    from stylelicense.generations.operations import build_payload
    from stylelicense.styles.models import Style
    from workers.generation import generate_image

    for name in ("STORAGE_URL", "INTERNAL_API_TOKEN"):
        monkeypatch.setenv(name, e2e_env[name])
    monkeypatch.setenv("API_BASE_URL", live_app.config["LIVE_URL"])
    monkeypatch.setenv("GENERATION_STEPS", "2")
    monkeypatch.setenv("GENERATION_PROGRESS_INTERVAL", "0")
    with live_app.app_context():
        buyer = db.session.scalar(select(User).where(User.username == "buyer"))
        style = db.session.get(Style, shop.style_id)
        generation = factories.create_generation(buyer, style, status="queued", is_public=False, seed=3)
        ledger.charge_for_generation(generation, style.title)
        payload = asdict(build_payload(generation, style, buyer))
        db.session.commit()

    assert generate_image.apply(kwargs={"payload": payload}).get() == "completed"
    data = shop.client.get(f"/api/generations/{payload['generation_id']}").get_json()["data"]
    assert data["status"] == "completed" and data["attempts"] == 1
    files = _files(shop.storage_root, data["id"])
    # Delivered private: the worker's public outputs (their keys are in the payload) moved away.
    assert len(files) == DELIVERED_FILES and all(name.startswith("private/") for name in files), files
    assert not any(name.endswith(payload["result_key"]) for name in files)

    # The same message again: the task asks the API first and does nothing.
    assert generate_image.apply(kwargs={"payload": payload}).get() == "completed"
    assert _files(shop.storage_root, data["id"]) == files
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.attempts == 1 and facts.drift == []


def test_cancelled_job_received_by_the_task_does_nothing(live_app, shop, e2e_env, monkeypatch):
    """Cancelled while queued, then the task gets the message anyway: it asks the API, stops, stores nothing."""
    from dataclasses import asdict

    from stylelicense.generations.operations import build_payload
    from workers.generation import generate_image

    for name in ("STORAGE_URL", "INTERNAL_API_TOKEN"):
        monkeypatch.setenv(name, e2e_env[name])
    monkeypatch.setenv("API_BASE_URL", live_app.config["LIVE_URL"])
    monkeypatch.setenv("GENERATION_STEPS", "2")
    data = _create(shop)
    cancelled = shop.client.post(f"/api/generations/{data['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["data"]["status"] == "cancelled"
    with live_app.app_context():
        generation = db.session.get(Generation, data["id"])
        payload = asdict(build_payload(generation, generation.style, generation.user))
        db.session.commit()
    assert generate_image.apply(kwargs={"payload": payload}).get() == "cancelled"
    assert _files(shop.storage_root, data["id"]) == []
    facts = _ledger(live_app, data["id"])
    assert facts.movements == ["charge", "refund"] and facts.attempts == 0 and facts.drift == []
    assert facts.earned == 0
