"""Inference webhooks: the state only moves forward, tokens and notifications move once, duplicates and
late callbacks change nothing; the stale sweeper and the operator commands."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from kombu import Connection
from sqlalchemy import func, select, update

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.generations.operations import MAX_ATTEMPTS
from stylelicense.models import utcnow
from stylelicense.notifications.models import Notification
from stylelicense.storage import get_storage
from stylelicense.tokens.ledger_audit import verify_ledger
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import Artist, User
from tests import factories
from tests.conftest import INTERNAL_TOKEN

HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "inference-server"}


@pytest.fixture
def gen(app, client, login):
    """A generation bought through the API (10 tokens charged), its owner's client and output keys."""
    return factories.bought_generation(app, client, login)


def _hook(client, method, path, body, headers=HEADERS):
    return client.open(f"/api/webhooks/inference/{path}", method=method, json=body, headers=headers, csrf=False)


def _start(client, generation_id, run_id="run-1", total=30):
    return _hook(
        client,
        "PATCH",
        "progress",
        {"generation_id": generation_id, "current_step": 0, "total_steps": total, "run_id": run_id},
    )


def _step(client, generation_id, step, run_id="run-1", total=30):
    return _hook(
        client,
        "PATCH",
        "progress",
        {
            "generation_id": generation_id,
            "current_step": step,
            "total_steps": total,
            "progress_percent": step * 100 // total,
            "estimated_seconds": total - step,
            "run_id": run_id,
        },
    )


def _store_outputs(app, gen):
    with app.app_context():
        storage = get_storage()
        storage.put(gen.result_key, b"signed png", public=True)
        storage.put(gen.thumbnail_key, b"thumb", public=True)


def _complete(client, gen):
    return _hook(
        client,
        "POST",
        "complete",
        {"generation_id": gen.id, "result_key": gen.result_key, "thumbnail_key": gen.thumbnail_key},
    )


def _failed(client, generation_id, code="GPU_OUT_OF_MEMORY"):
    return _hook(
        client, "POST", "failed", {"generation_id": generation_id, "error_code": code, "reason": "CUDA out of memory"}
    )


def _facts(app, generation_id):
    with app.app_context():
        generation = db.session.get(Generation, generation_id)
        movements = db.session.scalars(
            select(Transaction.idempotency_key)
            .where(Transaction.related_generation_id == generation_id)
            .order_by(Transaction.id)
        ).all()
        notes = db.session.scalars(select(Notification.type).where(Notification.target_id == generation_id)).all()
        buyer = db.session.get(User, generation.user_id)
        earned = db.session.scalar(select(func.sum(Artist.earned_token_balance)))
        return SimpleNamespace(
            status=generation.status,
            attempts=generation.attempts,
            progress=generation.progress,
            result_key=generation.result_key,
            error_code=generation.error_code,
            movements=[key.split(":")[0] for key in movements],
            notifications=sorted(notes),
            balance=buyer.token_balance,
            earned=earned,
            drift=verify_ledger(),
        )


def test_progress_then_complete_credits_and_notifies_once(app, client, gen):
    assert _start(client, gen.id).get_json()["data"] == {
        "generation_id": gen.id,
        "status": "processing",
        "attempts": 1,
        "changed": True,
    }
    assert _step(client, gen.id, 12).status_code == 200
    shown = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    assert shown["status"] == "processing" and shown["attempts"] == 1
    assert shown["progress"]["current_step"] == 12 and shown["progress"]["total_steps"] == 30
    assert shown["progress"]["progress_percent"] == 40 and shown["progress"]["estimated_seconds"] == 18
    assert shown["progress"]["last_updated"]

    _store_outputs(app, gen)
    response = _complete(client, gen)
    assert response.status_code == 200
    assert response.get_json()["data"]["status"] == "completed" and response.get_json()["data"]["changed"]
    facts = _facts(app, gen.id)
    # A private image (the default) moves from the worker's public key to a new private one.
    assert facts.status == "completed" and facts.progress is None
    assert facts.result_key.startswith(f"generations/{gen.id}/") and facts.result_key != gen.result_key
    assert facts.movements == ["charge", "credit"]
    assert facts.notifications == ["generation_complete"]
    assert facts.balance == 90 and facts.earned == 10 and facts.drift == []
    shown = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    assert f"/private/{facts.result_key}?" in shown["result_url"] and shown["progress"] is None
    assert shown["completed_at"]

    # Duplicates and late callbacks change nothing.
    again = _complete(client, gen)
    assert again.status_code == 200 and again.get_json()["data"]["changed"] is False
    late_progress = _step(client, gen.id, 20)
    assert late_progress.status_code == 409
    assert late_progress.get_json()["error"]["code"] == "GENERATION_FINISHED"
    assert late_progress.get_json()["error"]["details"]["status"] == "completed"
    assert _start(client, gen.id, run_id="redelivered").status_code == 409
    late_failure = _failed(client, gen.id)
    assert late_failure.status_code == 200 and late_failure.get_json()["data"]["status"] == "completed"
    facts = _facts(app, gen.id)
    assert facts.status == "completed" and facts.attempts == 1
    assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
    assert facts.balance == 90 and facts.earned == 10 and facts.drift == []


def test_retrying_then_final_failure_refunds_and_notifies_once(app, client, gen):
    _start(client, gen.id, run_id="a")
    _step(client, gen.id, 1, run_id="a")
    retry = _hook(
        client,
        "PATCH",
        "progress",
        {
            "generation_id": gen.id,
            "current_step": 0,
            "total_steps": 0,
            "attempt": 1,
            "run_id": "a",
            "retrying": True,
            "error_code": "GPU_OUT_OF_MEMORY",
            "reason": "OOM",
        },
    )
    assert retry.status_code == 200
    shown = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    assert shown["status"] == "retrying" and shown["attempts"] == 1 and shown["progress"] is not None
    assert _start(client, gen.id, run_id="b").get_json()["data"]["attempts"] == 2
    assert _facts(app, gen.id).status == "processing"

    response = _failed(client, gen.id)
    assert response.status_code == 200 and response.get_json()["data"]["changed"] is True
    facts = _facts(app, gen.id)
    assert facts.status == "failed" and facts.error_code == "GPU_OUT_OF_MEMORY" and facts.progress is None
    assert facts.movements == ["charge", "refund"] and facts.notifications == ["generation_failed"]
    assert facts.balance == 100 and facts.earned == 0 and facts.drift == []
    shown = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    assert shown["status"] == "failed" and shown["error_code"] == "GPU_OUT_OF_MEMORY" and shown["result_url"] is None

    # A late success after the refund: the row stays failed and the image does not stay public.
    _store_outputs(app, gen)
    late = _complete(client, gen)
    assert late.status_code == 200 and late.get_json()["data"]["status"] == "failed"
    with app.app_context():
        assert not get_storage().exists(gen.result_key, public=True)
        assert not get_storage().exists(gen.thumbnail_key, public=True)
    assert _failed(client, gen.id).get_json()["data"]["changed"] is False
    assert _step(client, gen.id, 5, run_id="b").status_code == 409
    facts = _facts(app, gen.id)
    assert facts.status == "failed" and facts.movements == ["charge", "refund"]
    assert facts.notifications == ["generation_failed"] and facts.balance == 100 and facts.drift == []


def test_resent_start_stale_runs_and_out_of_order_steps_change_nothing(app, client, gen):
    _start(client, gen.id, run_id="a")
    again = _start(client, gen.id, run_id="a")
    assert again.get_json()["data"] == {
        "generation_id": gen.id,
        "status": "processing",
        "attempts": 1,
        "changed": False,
    }
    _step(client, gen.id, 10, run_id="a")
    assert _step(client, gen.id, 4, run_id="a").get_json()["data"]["changed"] is False
    assert _facts(app, gen.id).progress["current_step"] == 10
    # A redelivered message starts a new run; the old run's late reports are ignored.
    assert _start(client, gen.id, run_id="b").get_json()["data"]["attempts"] == 2
    assert _step(client, gen.id, 25, run_id="a").get_json()["data"]["changed"] is False
    assert _step(client, gen.id, 2, run_id="b").get_json()["data"]["changed"] is True
    assert _facts(app, gen.id).progress["current_step"] == 2


def test_a_message_that_keeps_killing_workers_is_failed_and_refunded(app, client, gen):
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert _start(client, gen.id, run_id=f"r{attempt}").get_json()["data"]["attempts"] == attempt
    response = _start(client, gen.id, run_id="one-too-many")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "GENERATION_FINISHED"
    facts = _facts(app, gen.id)
    assert facts.status == "failed" and facts.error_code == "TOO_MANY_ATTEMPTS"
    assert facts.movements == ["charge", "refund"] and facts.balance == 100 and facts.drift == []


def test_complete_checks_keys_and_storage(app, client, gen):
    _start(client, gen.id)
    other = _hook(
        client,
        "POST",
        "complete",
        {"generation_id": gen.id, "result_key": "generations/999/x.png", "thumbnail_key": gen.thumbnail_key},
    )
    assert other.status_code == 422
    missing = _complete(client, gen)
    assert missing.status_code == 409 and missing.get_json()["error"]["code"] == "RESULT_MISSING"
    facts = _facts(app, gen.id)
    assert facts.status == "processing" and facts.movements == ["charge"] and facts.notifications == []
    unknown = _hook(client, "POST", "failed", {"generation_id": 987654, "error_code": "X"})
    assert unknown.status_code == 404


def test_webhooks_need_the_internal_token_and_source(app, client, gen):
    body = {"generation_id": gen.id, "error_code": "X", "reason": "nope"}
    assert _hook(client, "POST", "failed", body, headers={}).status_code == 401
    assert (
        _hook(client, "POST", "failed", body, headers={**HEADERS, "Authorization": "Bearer wrong"}).status_code == 401
    )
    assert (
        _hook(client, "POST", "failed", body, headers={**HEADERS, "X-Request-Source": "training-server"}).status_code
        == 403
    )
    # A browser session (with CSRF) is not enough either.
    assert gen.client.post("/api/webhooks/inference/failed", json=body).status_code == 401
    assert _facts(app, gen.id).status == "queued"


def test_concurrent_duplicate_callbacks_credit_once(app, client, gen):
    _start(client, gen.id)
    _store_outputs(app, gen)
    barrier = threading.Barrier(6)
    results = []

    def call(i):
        local = app.test_client()
        barrier.wait()
        if i % 2:
            results.append(_complete(local, gen).status_code)
        else:
            results.append(_failed(local, gen.id).status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6
    facts = _facts(app, gen.id)
    # Whichever came first won; the others changed nothing.
    assert facts.movements in (["charge", "credit"], ["charge", "refund"])
    assert len(facts.notifications) == 1 and facts.drift == []


# --- stale sweeper and operator commands --------------------------------------------------------


def _age(app, generation_id, minutes):
    with app.app_context():
        db.session.execute(
            update(Generation)
            .where(Generation.id == generation_id)
            .values(updated_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def _drain_generation_queue():
    """Take every waiting job off the in-memory broker the test app sends to."""
    with Connection("memory://") as connection:
        queue = connection.SimpleQueue("image_generation")
        while True:
            try:
                queue.get(block=False).ack()
            except queue.Empty:
                break
        queue.close()


def test_sweep_stale_fails_and_refunds_only_stuck_generations(app, client, gen):
    buyer = gen.client
    style_id = buyer.get(f"/api/generations/{gen.id}").get_json()["data"]["style_id"]
    fresh = buyer.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["dog"]}).get_json()["data"]
    waiting = buyer.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["fox"]}).get_json()["data"]
    done = buyer.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["owl"]}).get_json()["data"]
    finished = SimpleNamespace(
        id=done["id"],
        result_key=f"generations/{done['id']}/r.png",
        thumbnail_key=f"generations/{done['id']}/r-thumb.webp",
    )
    _store_outputs(app, finished)
    _start(client, finished.id)
    _complete(client, finished)
    _start(client, gen.id)
    for generation_id in (gen.id, finished.id, waiting["id"]):
        _age(app, generation_id, 45)
    _age(app, fresh["id"], 10)

    # Jobs still wait in the queue: the old queued one is behind a backlog, not lost.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["generations", "sweep-stale", "--minutes", "30"])
    assert result.exit_code == 0, result.output
    assert f"failed generation {gen.id}" in result.output and "1 stale generation(s) failed" in result.output
    stuck = _facts(app, gen.id)
    assert stuck.status == "failed" and stuck.error_code == "STALE"
    assert stuck.movements == ["charge", "refund"] and stuck.notifications == ["generation_failed"]
    assert _facts(app, fresh["id"]).status == "queued"
    assert _facts(app, waiting["id"]).status == "queued"
    assert _facts(app, finished.id).status == "completed"
    assert stuck.balance == 100 - 4 * 10 + 10  # only the swept one is refunded
    assert stuck.drift == []

    # With the queue empty, a queued row that old lost its message: failed and refunded too.
    _drain_generation_queue()
    again = runner.invoke(args=["generations", "sweep-stale", "--minutes", "30"])
    assert f"failed generation {waiting['id']}" in again.output and "1 stale generation(s) failed" in again.output
    assert _facts(app, waiting["id"]).movements == ["charge", "refund"]
    assert _facts(app, fresh["id"]).status == "queued"
    assert _facts(app, gen.id).movements == ["charge", "refund"]
    assert "0 stale generation(s) failed" in runner.invoke(args=["generations", "sweep-stale"]).output

    shown = runner.invoke(args=["generations", "show", str(gen.id)])
    assert shown.exit_code == 0
    assert f"generation {gen.id}: failed (attempts 1)" in shown.output
    assert "STALE" in shown.output and f"refund:{gen.id}" in shown.output and f"charge:{gen.id}" in shown.output
    assert runner.invoke(args=["generations", "show", "424242"]).exit_code != 0
