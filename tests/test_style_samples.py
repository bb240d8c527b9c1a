"""Style samples and the training report (SPEC §13): the completion webhook must bring at least four
previews (else the style is not completed), ``GET /api/styles/:id`` shows them to everyone and the
report to the owner only, cards use the first sample, and the previews count as platform outputs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from stylelicense.extensions import db
from stylelicense.styles.models import ImageFingerprint, Style
from stylelicense.styles.operations import lora_key_for
from tests import factories
from tests.conftest import INTERNAL_TOKEN

HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "training-server"}


def sample_bodies(style_id: int, count: int = 4, *, prefix: str | None = None) -> list[dict]:
    """What the training worker reports: keys in the style's samples folder, prompts, seeds, hashes."""
    prefix = prefix or f"styles/{style_id}/samples/run1"
    return [
        {
            "key": f"{prefix}-{i}-with.png",
            "thumbnail_key": f"{prefix}-{i}-thumb.webp",
            "without_key": f"{prefix}-{i}-without.png",
            "prompt": f"ink, subject {i}",
            "seed": 11 + i,
            "width": 128,
            "height": 128,
            "provenance": {
                "serial": 1000 + i,
                "sha256": "a" * 64,
                "phash": 2**40 + i,
                "dhash": 2**20 + i,
                "windows": [[2**40 + i, 2**20 + i]],
            },
        }
        for i in range(1, count + 1)
    ]


REPORT = {"loss": [[10, 0.31], [20, 0.27], [30, 0.25]], "steps": 30, "seconds": 12.5, "images": 10, "resolution": 128}


@pytest.fixture
def style_id(app):
    with app.app_context():
        artist = factories.create_artist("sampler", "Sampler")
        style = factories.create_style(artist, title="Ink", status="training", trigger="ink")
        db.session.commit()
        return style.id


def _complete(client, style_id: int, **body):
    return client.post(
        "/api/webhooks/training/complete",
        headers=HEADERS,
        json={"style_id": style_id, "lora_key": lora_key_for(style_id), **body},
    )


def _status(app, style_id: int) -> str:
    with app.app_context():
        return db.session.get(Style, style_id).training_status


@pytest.mark.parametrize("samples", [[], "three", "outside"])
def test_a_completion_without_four_proper_samples_is_refused(app, client, style_id, samples):
    if samples == "three":
        samples = sample_bodies(style_id, 3)
    elif samples == "outside":
        samples = sample_bodies(style_id, prefix=f"styles/{style_id + 1}/samples/x")
    response = _complete(client, style_id, samples=samples)
    assert response.status_code == 422, response.get_json()
    assert _status(app, style_id) == "training"


def test_samples_for_everyone_report_for_the_owner_and_cards_use_the_first_sample(
    app, client, make_client, login, style_id
):
    response = _complete(client, style_id, samples=sample_bodies(style_id), report=REPORT, steps=30, seconds=12.5)
    assert response.status_code == 200, response.get_json()
    assert _status(app, style_id) == "completed"

    visitor = make_client()
    data = visitor.get(f"/api/styles/{style_id}").get_json()["data"]
    assert len(data["samples"]) == 4
    first = data["samples"][0]
    assert set(first) == {"url", "thumbnail_url", "prompt", "seed", "width", "height", "without_style_url"}
    assert first["url"].endswith("run1-1-with.png") and first["without_style_url"].endswith("run1-1-without.png")
    assert (first["prompt"], first["seed"], first["width"]) == ("ink, subject 1", 12, 128)
    assert data["training_report"] is None  # not the owner
    assert data["thumbnail_url"] == first["thumbnail_url"]
    card = next(s for s in visitor.get("/api/styles").get_json()["data"]["results"] if s["id"] == style_id)
    assert card["thumbnail_url"] == first["thumbnail_url"]

    login(client, "sampler")
    report = client.get(f"/api/styles/{style_id}").get_json()["data"]["training_report"]
    assert report == {
        "loss": [[10, 0.31], [20, 0.27], [30, 0.25]],
        "steps": 30,
        "seconds": 12.5,
        "images": 10,
        "resolution": 128,
    }

    # The previews are platform outputs: nobody may register them as training images.
    with app.app_context():
        outputs = db.session.scalar(
            select(func.count()).select_from(ImageFingerprint).where(ImageFingerprint.source == "output")
        )
    assert outputs == 4
