"""A deactivated artist's style is unavailable (SPEC §13): POST /api/generations answers 409
STYLE_UNAVAILABLE and charges nothing; a job bought before the artist left is failed and refunded
(decision: the buyer gets their tokens back, the artist is never credited, the file is not kept);
every other path that names the artist, their style or a deactivated user's image by id is 404."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.storage import get_storage
from stylelicense.styles.models import Style
from stylelicense.tokens.ledger_audit import verify_ledger
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import Artist, User
from tests import factories
from tests.test_inference_webhooks import _complete, _hook, _start


@pytest.fixture
def shop(app):
    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(
            artist, title="Ink Wash", lora_key="styles/1/lora.safetensors", generation_cost_tokens=10
        )
        db.session.commit()
        return SimpleNamespace(user_id=artist.id, artist_id=artist.artist.id, style_id=style.id)


def _deactivate(app, user_id: int, *, through_cli: bool = True) -> None:
    if through_cli:
        result = app.test_cli_runner().invoke(args=["users", "deactivate", str(user_id)])
        assert result.exit_code == 0, result.output
    else:  # a row changed behind the operations' back (e.g. by hand in SQL): the guards still hold
        with app.app_context():
            db.session.get(User, user_id).is_active = False
            db.session.commit()


def _state(app, generation_id: int | None = None, username: str = "buyer"):
    with app.app_context():
        generation = db.session.get(Generation, generation_id) if generation_id else None
        return SimpleNamespace(
            balance=db.session.scalar(select(User.token_balance).where(User.username == username)),
            earned=db.session.scalar(select(func.sum(Artist.earned_token_balance))),
            status=generation.status if generation else None,
            error_code=generation.error_code if generation else None,
            movements=sorted(
                key.split(":")[0]
                for key in db.session.scalars(
                    select(Transaction.idempotency_key).where(Transaction.related_generation_id == generation_id)
                )
            ),
            generations=db.session.scalar(select(func.count()).select_from(Generation)),
            drift=verify_ledger(),
        )


def _buy(client, style_id):
    return client.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["cat"]})


def test_generating_a_deactivated_artists_style_is_refused_and_not_charged(app, client, login, shop):
    login(client, "buyer")
    _deactivate(app, shop.user_id)
    response = _buy(client, shop.style_id)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "STYLE_UNAVAILABLE"
    state = _state(app)
    assert state.balance == 100 and state.generations == 0 and state.drift == []


def test_a_job_queued_before_deactivation_is_refunded_and_never_credited(app, client, login, shop):
    login(client, "buyer")
    response = _buy(client, shop.style_id)
    assert response.status_code == 201
    generation_id = response.get_json()["data"]["id"]
    assert _state(app).balance == 90

    _deactivate(app, shop.user_id)
    state = _state(app, generation_id)
    assert (state.status, state.error_code) == ("failed", "STYLE_UNAVAILABLE")
    assert state.balance == 100 and state.movements == ["charge", "refund"] and state.drift == []
    # The worker that still receives the message is told to stop, and a late completion credits nobody.
    started = _start(client, generation_id)
    assert started.status_code == 409 and started.get_json()["error"]["code"] == "GENERATION_FINISHED"
    gen = SimpleNamespace(
        id=generation_id,
        result_key=f"generations/{generation_id}/x.png",
        thumbnail_key=f"generations/{generation_id}/x-thumb.webp",
    )
    assert _complete(client, gen).get_json()["data"]["status"] == "failed"
    state = _state(app, generation_id)
    assert state.earned == 0 and state.movements == ["charge", "refund"] and state.drift == []


@pytest.mark.parametrize("stage", ["start", "complete"])
def test_worker_reports_for_an_unavailable_style_refund_instead_of_crediting(app, client, login, shop, stage):
    """Even when the deactivation bypassed the operations (no refund at deactivation time), the
    worker's start report stops the job and a completion refunds instead of crediting."""
    login(client, "buyer")
    generation_id = _buy(client, shop.style_id).get_json()["data"]["id"]
    result_key = f"generations/{generation_id}/abc.png"
    thumbnail_key = f"generations/{generation_id}/abc-thumb.webp"
    if stage == "complete":
        assert _start(client, generation_id).status_code == 200
        with app.app_context():
            storage = get_storage()
            storage.put(result_key, b"png", public=True, content_type="image/png")
            storage.put(thumbnail_key, b"webp", public=True, content_type="image/webp")
    _deactivate(app, shop.user_id, through_cli=False)

    if stage == "start":
        response = _start(client, generation_id)
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "GENERATION_FINISHED"
    else:
        response = _hook(
            client,
            "POST",
            "complete",
            {"generation_id": generation_id, "result_key": result_key, "thumbnail_key": thumbnail_key},
        )
        assert response.status_code == 200 and response.get_json()["data"]["status"] == "failed"
        with app.app_context():
            assert not get_storage().exists(result_key, public=True)
    state = _state(app, generation_id)
    assert (state.status, state.error_code) == ("failed", "STYLE_UNAVAILABLE")
    assert state.balance == 100 and state.earned == 0 and state.movements == ["charge", "refund"]
    assert state.drift == []


def test_every_path_naming_a_deactivated_account_is_not_found(app, client, make_client, login, shop):
    """Style page, follow, profile, and the deactivated user's own public image (detail, like,
    comments) are all 404 once the account is deactivated."""
    with app.app_context():
        owner = factories.create_user("leaving")
        image = factories.create_generation(owner, db.session.get(Style, shop.style_id), is_public=True)
        db.session.commit()
        image_id, owner_id = image.id, owner.id
    viewer = make_client()
    login(viewer, "viewer")
    assert viewer.get(f"/api/generations/{image_id}").status_code == 200
    _deactivate(app, shop.user_id)
    _deactivate(app, owner_id)

    for response in (
        viewer.get(f"/api/styles/{shop.style_id}"),
        viewer.post(f"/api/users/{shop.user_id}/follow"),
        viewer.get(f"/api/users/{shop.user_id}"),
        viewer.get(f"/api/users/{owner_id}"),
        viewer.get(f"/api/generations/{image_id}"),
        viewer.post(f"/api/generations/{image_id}/like"),
        viewer.get(f"/api/generations/{image_id}/comments"),
        viewer.post(f"/api/generations/{image_id}/comments", json={"body": "hello"}),
    ):
        assert response.status_code == 404, (response.request.path, response.get_json())
        assert response.get_json()["error"]["code"] == "NOT_FOUND"
    listed = [style["id"] for style in viewer.get("/api/styles").get_json()["data"]["results"]]
    assert shop.style_id not in listed
