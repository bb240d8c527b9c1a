"""Queue position and ETA (SPEC §13): position from the waiting rows, ETA from service times the workers
reported with their completion webhooks; null once the job runs; a repeated callback is not counted twice."""

from __future__ import annotations

from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.queueing.models import ServiceTime
from stylelicense.styles.operations import lora_key_for
from tests import factories
from tests.conftest import INTERNAL_TOKEN
from tests.test_style_samples import sample_bodies

INFERENCE = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "inference-server"}
TRAINING = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "training-server"}


def _queue(client, generation_id):
    response = client.get(f"/api/generations/{generation_id}")
    assert response.status_code == 200
    return response.get_json()["data"]["queue"]


def _hook(client, method, path, body, headers):
    response = client.open(f"/api/webhooks/{path}", method=method, json=body, headers=headers, csrf=False)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def _complete(app, client, generation_id, service):
    from stylelicense.storage import get_storage

    keys = {"result_key": f"generations/{generation_id}/a.png", "thumbnail_key": f"generations/{generation_id}/t.webp"}
    with app.app_context():
        get_storage().put(keys["result_key"], b"png", public=True)
        get_storage().put(keys["thumbnail_key"], b"webp", public=True)
    _hook(
        client,
        "PATCH",
        "inference/progress",
        {"generation_id": generation_id, "current_step": 0, "total_steps": 30, "run_id": f"r{generation_id}"},
        INFERENCE,
    )
    return _hook(
        client, "POST", "inference/complete", {"generation_id": generation_id, **keys, "service": service}, INFERENCE
    )


def test_generation_queue_position_and_measured_eta(app, client, login):
    me = login(client, "buyer")
    with app.app_context():
        style = factories.create_style(lora_key="styles/1/lora.safetensors")
        ids = [
            factories.create_generation(
                db.session.get(factories.User, me["id"]), style, status="queued", is_public=False
            ).id
            for _ in range(4)
        ]
        db.session.commit()
    # Positions follow creation order; no measurements yet, so no ETA.
    assert [_queue(client, i) for i in ids] == [{"position": n, "eta_seconds": None} for n in (1, 2, 3, 4)]

    first = _complete(app, client, ids[0], {"seconds": 4.0, "batch_size": 2, "batch_seconds": 6.0, "worker": "w1"})
    assert first["status"] == "completed" and _queue(client, ids[0]) is None
    # per image 3 s (6 s / batch of 2), a job's own time 4 s, one live worker
    assert [_queue(client, i) for i in ids[1:]] == [
        {"position": 1, "eta_seconds": 4},
        {"position": 2, "eta_seconds": 7},
        {"position": 3, "eta_seconds": 10},
    ]

    # Once a job runs it has progress, not a queue place; the others move up... and it counts as running.
    _hook(
        client,
        "PATCH",
        "inference/progress",
        {"generation_id": ids[1], "current_step": 0, "total_steps": 30, "run_id": "x"},
        INFERENCE,
    )
    assert _queue(client, ids[1]) is None
    assert _queue(client, ids[2]) == {"position": 1, "eta_seconds": 7}

    # A second worker halves the wait; the averages move towards the new sample (EWMA, alpha 0.2).
    _complete(app, client, ids[1], {"seconds": 9.0, "batch_size": 1, "batch_seconds": 3.0, "worker": "w2"})
    latency = 0.8 * 4 + 0.2 * 9  # 5.0
    assert _queue(client, ids[3]) == {"position": 2, "eta_seconds": int(-(-(1 * 3.0 / 2 + latency) // 1))}

    # A repeated completion callback is not counted again.
    with app.app_context():
        before = {(r.metric, r.samples) for r in db.session.scalars(select(ServiceTime))}
    keys = {"result_key": f"generations/{ids[1]}/a.png", "thumbnail_key": f"generations/{ids[1]}/t.webp"}
    again = _hook(
        client,
        "POST",
        "inference/complete",
        {"generation_id": ids[1], **keys, "service": {"seconds": 100.0}},
        INFERENCE,
    )
    assert again["changed"] is False
    with app.app_context():
        assert {(r.metric, r.samples) for r in db.session.scalars(select(ServiceTime))} == before


def test_generation_list_rows_carry_the_queue_too(app, client, login):
    me = login(client, "buyer")
    with app.app_context():
        user = db.session.get(factories.User, me["id"])
        queued = factories.create_generation(user, status="queued", is_public=False).id
        factories.create_generation(user, status="completed", is_public=False)
        db.session.commit()
    rows = client.get("/api/generations/me").get_json()["data"]["results"]
    by_id = {row["id"]: row["queue"] for row in rows}
    assert by_id[queued] == {"position": 1, "eta_seconds": None}
    assert [q for i, q in by_id.items() if i != queued] == [None]


def test_service_report_is_validated(app, client, login):
    login(client, "buyer")
    with app.app_context():
        generation = factories.create_generation(status="queued")
        db.session.commit()
        generation_id = generation.id
    response = client.open(
        "/api/webhooks/inference/complete",
        method="POST",
        csrf=False,
        headers=INFERENCE,
        json={
            "generation_id": generation_id,
            "result_key": "a",
            "thumbnail_key": "b",
            "service": {"seconds": -1, "batch_size": 0},
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_training_queue_position_and_eta(app, client, login):
    with app.app_context():
        pending = [factories.create_style(factories.create_artist(f"painter{i}"), status="pending") for i in (1, 2)]
        running = factories.create_style(factories.create_artist("painter3"), status="training")
        db.session.commit()
        ids, running_id = [s.id for s in pending], running.id

    def queue_of(username, style_id):
        login(client, username)  # a style that is not trained yet is visible to its artist only
        response = client.get(f"/api/styles/{style_id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]["queue"]

    assert queue_of("painter2", ids[1]) == {"position": 2, "eta_seconds": None}
    assert queue_of("painter3", running_id) is None

    # A training worker reports 120 s for a finished training.
    done = _hook(
        client,
        "POST",
        "training/complete",
        {
            "style_id": running_id,
            "lora_key": lora_key_for(running_id),
            "seconds": 120.0,
            "steps": 10,
            "worker": "t1",
            "samples": sample_bodies(running_id),
        },
        TRAINING,
    )
    assert done["training_status"] == "completed"
    # nothing running now: the first waits only for itself, the second for one training ahead too
    assert queue_of("painter1", ids[0]) == {"position": 1, "eta_seconds": 120}
    assert queue_of("painter2", ids[1]) == {"position": 2, "eta_seconds": 240}
