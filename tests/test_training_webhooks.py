"""Training webhooks (forward-only, idempotent, notify once, attempt cap) and the stale-job sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from stylelicense.api import iso
from stylelicense.extensions import db
from stylelicense.models import utcnow
from stylelicense.notifications.models import Notification
from stylelicense.styles.models import Style
from stylelicense.styles.operations import lora_key_for
from stylelicense.styles.training_status import MAX_TRAINING_ATTEMPTS
from tests import factories
from tests.conftest import INTERNAL_TOKEN
from tests.test_style_samples import sample_bodies
from tests.test_styles_helpers import queued_training_jobs

HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "training-server"}


@pytest.fixture
def style_id(app):
    """A pending style with two artworks (as POST /api/styles leaves it)."""
    from stylelicense.styles.models import Artwork
    from stylelicense.tags.operations import get_or_create_tags

    with app.app_context():
        artist = factories.create_artist("painter", "Painter")
        style = factories.create_style(artist, title="Blue Hour", status="pending", trigger="blue hour")
        for i in range(2):
            artwork = Artwork(
                style_id=style.id,
                image_key=f"styles/{style.id}/originals/{i}.png",
                training_key=f"styles/{style.id}/training/{i}.jpg",
                width=600,
                height=600,
            )
            artwork.tags = get_or_create_tags(["blue hour", "city"])
            db.session.add(artwork)
        db.session.commit()
        return style.id


def hook(client, method: str, path: str, body: dict, headers: dict | None = None):
    return client.open(
        f"/api/webhooks/training/{path}", method=method, json=body, headers=headers or HEADERS, csrf=False
    )


def start(client, style_id: int, run_id: str = "run-1", **extra):
    return hook(client, "PATCH", "progress", {"style_id": style_id, "starting": True, "run_id": run_id, **extra})


def state(app, style_id: int) -> Style:
    with app.app_context():
        style = db.session.get(Style, style_id)
        db.session.expunge(style)
        db.session.remove()
        return style


def notifications(app, style_id: int) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(Notification.type).where(Notification.target_type == "style", Notification.target_id == style_id)
        ).all()
        db.session.remove()
        return list(rows)


def test_webhooks_require_the_internal_token_and_source(client, style_id):
    body = {"style_id": style_id, "starting": True}
    assert hook(client, "PATCH", "progress", body, headers={"X-Request-Source": "training-server"}).status_code == 401
    wrong = {**HEADERS, "Authorization": "Bearer nope"}
    assert hook(client, "PATCH", "progress", body, headers=wrong).status_code == 401
    other = {**HEADERS, "X-Request-Source": "inference-server"}
    assert hook(client, "PATCH", "progress", body, headers=other).status_code == 403
    assert hook(client, "PATCH", "progress", {"style_id": style_id, "progress_percent": 101}).status_code == 422
    assert hook(client, "PATCH", "progress", {"style_id": 999999, "starting": True}).status_code == 404


def test_progress_then_complete_notifies_once(app, client, make_client, login, style_id):
    response = start(client, style_id, total_epochs=10)
    assert response.status_code == 200
    assert response.get_json()["data"] == {
        "style_id": style_id,
        "training_status": "training",
        "training_attempts": 1,
        "changed": True,
    }
    # the same start report again (a retried HTTP call) does not count a new attempt
    assert start(client, style_id).get_json()["data"]["training_attempts"] == 1

    report = {
        "style_id": style_id,
        "current_epoch": 4,
        "total_epochs": 10,
        "progress_percent": 40,
        "estimated_seconds": 90,
        "run_id": "run-1",
    }
    assert hook(client, "PATCH", "progress", report).status_code == 200

    owner = make_client()
    login(owner, "painter")
    shown = owner.get(f"/api/styles/{style_id}").get_json()["data"]
    assert shown["training_status"] == "training"
    assert {
        k: shown["progress"][k] for k in ("current_epoch", "total_epochs", "progress_percent", "estimated_seconds")
    } == {"current_epoch": 4, "total_epochs": 10, "progress_percent": 40, "estimated_seconds": 90}
    assert shown["progress"]["last_updated"]

    done = {
        "style_id": style_id,
        "lora_key": lora_key_for(style_id),
        "steps": 60,
        "seconds": 12.5,
        "run_id": "run-1",
        "samples": sample_bodies(style_id),
    }
    response = hook(client, "POST", "complete", done)
    assert response.status_code == 200 and response.get_json()["data"]["changed"] is True
    again = hook(client, "POST", "complete", done)
    assert again.status_code == 200 and again.get_json()["data"] == {
        "style_id": style_id,
        "training_status": "completed",
        "training_attempts": 1,
        "changed": False,
    }

    style = state(app, style_id)
    assert (style.training_status, style.lora_key, style.progress) == ("completed", lora_key_for(style_id), None)
    assert style.training_finished_at is not None
    assert notifications(app, style_id) == ["style_training_complete"]
    listed = owner.get("/api/notifications").get_json()["data"]["results"]
    assert [n["type"] for n in listed] == ["style_training_complete"]

    # late or impossible reports change nothing
    late = hook(client, "PATCH", "progress", report)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "TRAINING_FINISHED"
    assert start(client, style_id, run_id="redelivered").status_code == 409
    failed = hook(client, "POST", "failed", {"style_id": style_id, "reason": "late crash"})
    assert failed.status_code == 409
    style = state(app, style_id)
    assert (style.training_status, style.training_attempts) == ("completed", 1)
    assert notifications(app, style_id) == ["style_training_complete"]


def test_failure_is_final_and_notified_once(app, client, style_id):
    start(client, style_id)
    body = {"style_id": style_id, "reason": "INVALID_INPUT: training image missing", "run_id": "run-1"}
    assert hook(client, "POST", "failed", body).get_json()["data"]["changed"] is True
    assert hook(client, "POST", "failed", body).get_json()["data"]["changed"] is False
    done = hook(client, "POST", "complete", {"style_id": style_id, "lora_key": lora_key_for(style_id)})
    assert done.status_code == 409
    style = state(app, style_id)
    assert style.training_status == "failed" and style.failure_reason.startswith("INVALID_INPUT")
    assert notifications(app, style_id) == ["style_training_failed"]


def test_a_newer_run_supersedes_the_older_one(app, client, style_id):
    start(client, style_id, run_id="old")
    assert start(client, style_id, run_id="new").get_json()["data"]["training_attempts"] == 2
    stale = hook(
        client,
        "PATCH",
        "progress",
        {"style_id": style_id, "current_epoch": 9, "total_epochs": 10, "progress_percent": 90, "run_id": "old"},
    )
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "TRAINING_SUPERSEDED"
    crash = hook(client, "POST", "failed", {"style_id": style_id, "reason": "old run crashed", "run_id": "old"})
    assert crash.status_code == 409
    assert state(app, style_id).training_status == "training"
    assert state(app, style_id).progress["run_id"] == "new"


def test_wrong_lora_key_is_refused(app, client, style_id):
    start(client, style_id)
    response = hook(client, "POST", "complete", {"style_id": style_id, "lora_key": "styles/1/../../etc"})
    assert response.status_code == 422
    assert state(app, style_id).training_status == "training"


def test_attempts_are_capped(app, client, style_id):
    for attempt in range(1, MAX_TRAINING_ATTEMPTS + 1):
        response = start(client, style_id, run_id=f"run-{attempt}")
        assert response.status_code == 200 and response.get_json()["data"]["training_attempts"] == attempt
    response = start(client, style_id, run_id="one-too-many")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "TRAINING_FINISHED"
    style = state(app, style_id)
    assert style.training_status == "failed" and style.training_attempts == MAX_TRAINING_ATTEMPTS
    assert "attempts" in style.failure_reason
    assert notifications(app, style_id) == ["style_training_failed"]


def _set(app, style_id: int, **values) -> None:
    with app.app_context():
        style = db.session.get(Style, style_id)
        for name, value in values.items():
            setattr(style, name, value)
        db.session.commit()


def test_sweeper_fails_silent_training_and_requeues_lost_pending(app, client, style_id):
    """`flask styles sweep-stale`: a training style that went silent fails (artist notified); a pending
    style whose message was lost is sent again; fresh ones and queued ones are left alone."""
    with app.app_context():
        artist = factories.create_artist("second", "Second")
        fresh = factories.create_style(
            artist, title="Fresh", status="training", progress={"last_updated": iso(utcnow()), "current_epoch": 1}
        )
        other = factories.create_artist("third", "Third")
        waiting = factories.create_style(other, title="Waiting", status="pending")
        db.session.commit()
        fresh_id, waiting_id = fresh.id, waiting.id
    old = utcnow() - timedelta(minutes=20)
    start(client, style_id)
    _set(
        app,
        style_id,
        progress={
            "current_epoch": 2,
            "total_epochs": 10,
            "progress_percent": 20,
            "last_updated": iso(old),
            "run_id": "run-1",
        },
    )
    _set(app, waiting_id, updated_at=old)
    queued_training_jobs()  # an empty training queue: the pending style's message is lost

    runner = app.test_cli_runner()
    result = runner.invoke(args=["styles", "sweep-stale"])
    assert result.exit_code == 0, result.output
    assert f"failed: 1 [{style_id}]" in result.output and f"requeued: 1 [{waiting_id}]" in result.output

    assert state(app, style_id).training_status == "failed"
    assert "no progress" in state(app, style_id).failure_reason
    assert notifications(app, style_id) == ["style_training_failed"]
    assert state(app, fresh_id).training_status == "training"
    jobs = queued_training_jobs()
    assert [job["payload"]["style_id"] for job in jobs] == [waiting_id]
    assert state(app, waiting_id).training_status == "pending"

    # right after a re-send the style waits another full period; a worker that comes back late is told to stop
    result = runner.invoke(args=["styles", "sweep-stale"])
    assert "requeued: 0" in result.output and "failed: 0" in result.output
    late = hook(client, "PATCH", "progress", {"style_id": style_id, "current_epoch": 3, "run_id": "run-1"})
    assert late.status_code == 409
    assert notifications(app, style_id) == ["style_training_failed"]


def test_sweeper_leaves_pending_styles_alone_while_jobs_wait_in_the_queue(app, style_id):
    from stylelicense.jobs.client import send_now
    from stylelicense.jobs.payloads import TRAIN_STYLE

    _set(app, style_id, updated_at=utcnow() - timedelta(hours=1))
    queued_training_jobs()
    with app.test_request_context():
        send_now(TRAIN_STYLE, {"style_id": 0, "trigger": "x", "images": [], "lora_key": "k"})
    result = app.test_cli_runner().invoke(args=["styles", "sweep-stale", "--older-than", "60"])
    assert "requeued: 0" in result.output, result.output
    assert [job["payload"]["style_id"] for job in queued_training_jobs()] == [0]
    assert state(app, style_id).training_status == "pending"
