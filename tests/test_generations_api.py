"""Generations API: paid creation (one transaction with the charge), validation, visibility, feed,
owner edits and the 6-per-minute limit. The job is read back from the (in-memory) broker the API
really published to."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from kombu import Connection
from sqlalchemy import func, select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.styles.models import Style
from stylelicense.tokens import ledger
from stylelicense.tokens.ledger_audit import verify_ledger
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import User
from tests import factories


@pytest.fixture
def world(app):
    """An artist with a trained style (10 tokens per image) and one still training."""
    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        ledger.grant_tokens(artist, 50, memo="test", key="painter")
        style = factories.create_style(
            artist,
            title="Ink Wash",
            lora_key="styles/1/lora.safetensors",
            generation_cost_tokens=10,
            trigger="ink wash",
        )
        other = factories.create_artist("sketcher", "Sketchy")
        training = factories.create_style(other, title="Not Yet", status="training")
        db.session.commit()
        return SimpleNamespace(
            artist_user_id=artist.id,
            style_id=style.id,
            training_style_id=training.id,
            signature_key=artist.artist.signature_image_key,
        )


@pytest.fixture
def broker_jobs():
    """Drain, then read, the ``image_generation`` queue of the in-memory broker the test app uses."""

    def _read() -> list[dict]:
        jobs = []
        with Connection("memory://") as connection:
            queue = connection.SimpleQueue("image_generation")
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                body = message.decode() if not isinstance(message.payload, list) else message.payload
                jobs.append({"task": message.headers.get("task"), "kwargs": body[1]})
                message.ack()
            queue.close()
        return jobs

    _read()
    return _read


def _post(client, style, **overrides):
    body = {"style_id": style, "prompt_tags": ["Woman", "portrait", "sunset"], **overrides}
    return client.post("/api/generations", json=body)


def _balance(app, username):
    with app.app_context():
        return db.session.scalar(select(User.token_balance).where(User.username == username))


def test_create_charges_once_and_enqueues_everything_the_worker_needs(app, client, login, world, broker_jobs):
    login(client, "buyer")
    response = _post(
        client, world.style_id, description="<b>Golden</b> hour <script>x()</script>", aspect_ratio="1:2", seed=1234
    )
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert data["status"] == "queued"
    assert data["prompt_tags"] == ["woman", "portrait", "sunset"]
    assert data["description"] == "Golden hour"
    assert (data["aspect_ratio"], data["width"], data["height"], data["seed"]) == ("1:2", 512, 1024, 1234)
    assert data["cost_tokens"] == 10 and data["attempts"] == 0 and data["is_public"] is False
    assert data["progress"] is None and data["result_url"] is None
    assert data["style"] == {"id": world.style_id, "title": "Ink Wash", "is_paused": False}
    assert data["artist"] == {"id": world.artist_user_id, "artist_name": "Painter Pat"}
    assert data["owner"]["username"] == "buyer"
    assert data["licence_url"].startswith("http")

    assert _balance(app, "buyer") == 90
    with app.app_context():
        charges = db.session.scalars(select(Transaction).where(Transaction.related_generation_id == data["id"])).all()
        assert [(t.transaction_type, t.amount) for t in charges] == [("generation_charge", 10)]
        assert db.session.get(Style, world.style_id).generation_count == 1
        generation = db.session.get(Generation, data["id"])
        assert sorted(tag.name for tag in generation.tags) == ["portrait", "sunset", "woman"]
        assert verify_ledger() == []

    jobs = broker_jobs()
    assert len(jobs) == 1
    assert jobs[0]["task"] == "workers.tasks.generate_image"
    payload = jobs[0]["kwargs"]["payload"]
    assert payload["generation_id"] == data["id"]
    assert payload["lora_key"] == "styles/1/lora.safetensors"
    assert payload["trigger"] == "ink wash"
    assert payload["prompt_tags"] == ["woman", "portrait", "sunset"]
    assert (payload["width"], payload["height"], payload["seed"]) == (512, 1024, 1234)
    assert payload["artist_name"] == "Painter Pat" and payload["style_title"] == "Ink Wash"
    assert payload["signature_key"] == world.signature_key
    assert payload["result_key"].startswith(f"generations/{data['id']}/") and payload["result_key"].endswith(".png")
    assert payload["thumbnail_key"].startswith(f"generations/{data['id']}/")
    assert payload["licence_url"] == data["licence_url"]
    assert payload["extra"]["buyer"] == "buyer"


def test_seed_is_random_when_omitted_and_default_ratio_is_square(client, login, world, broker_jobs):
    login(client, "buyer")
    seeds = set()
    for _ in range(3):
        data = _post(client, world.style_id).get_json()["data"]
        assert (data["aspect_ratio"], data["width"], data["height"]) == ("1:1", 512, 512)
        assert 0 <= data["seed"] <= 2**32 - 1
        seeds.add(data["seed"])
    assert len(seeds) > 1
    assert len(broker_jobs()) == 3


def test_insufficient_tokens_leaves_no_row_and_no_job(app, client, login, world, broker_jobs):
    login(client, "poor")
    with app.app_context():
        db.session.get(Style, world.style_id).generation_cost_tokens = 101
        db.session.commit()
    response = _post(client, world.style_id)
    assert response.status_code == 402
    assert response.get_json()["error"]["code"] == "INSUFFICIENT_TOKENS"
    assert _balance(app, "poor") == 100
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Generation)) == 0
        assert db.session.get(Style, world.style_id).generation_count == 0
        assert verify_ledger() == []
    assert broker_jobs() == []


def test_spending_down_to_zero_then_refused(app, client, login, world):
    login(client, "spender")
    codes = [_post(client, world.style_id).status_code for _ in range(11)]
    assert codes == [201] * 10 + [402]
    assert _balance(app, "spender") == 0


@pytest.mark.parametrize(
    "change, code, status",
    [
        ({"style_id": 999_999}, "NOT_FOUND", 404),
        ({"prompt_tags": []}, "VALIDATION_ERROR", 422),
        ({"prompt_tags": ["  ", ""]}, "VALIDATION_ERROR", 422),
        ({"prompt_tags": ["고양이"]}, "VALIDATION_ERROR", 422),
        ({"prompt_tags": [f"tag{i}" for i in range(21)]}, "VALIDATION_ERROR", 422),
        ({"prompt_tags": "woman"}, "VALIDATION_ERROR", 422),
        ({"aspect_ratio": "16:9"}, "VALIDATION_ERROR", 422),
        ({"seed": -1}, "VALIDATION_ERROR", 422),
        ({"seed": 2**32}, "VALIDATION_ERROR", 422),
        ({"description": "x" * 501}, "VALIDATION_ERROR", 422),
        ({"price": 1}, "VALIDATION_ERROR", 422),
    ],
)
def test_invalid_requests_are_refused_without_charging(app, client, login, world, change, code, status):
    login(client, "buyer")
    response = _post(client, world.style_id, **change)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert _balance(app, "buyer") == 100


def test_twenty_tags_and_a_500_character_description_after_stripping_are_fine(client, login, world):
    login(client, "buyer")
    response = _post(
        client, world.style_id, prompt_tags=[f"tag{i}" for i in range(20)], description="<i>" + "y" * 500 + "</i>"
    )
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["data"]["description"]) == 500


def test_style_not_ready(app, client, login, world):
    login(client, "buyer")
    response = _post(client, world.training_style_id)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "STYLE_NOT_READY"
    assert _balance(app, "buyer") == 100


def test_login_and_csrf_required(client, make_client, login, world):
    assert _post(client, world.style_id).status_code == 401
    login(client, "buyer")
    response = client.post("/api/generations", json={"style_id": world.style_id, "prompt_tags": ["a"]}, csrf=False)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "CSRF_FAILED"


def test_artist_pays_for_their_own_style_too(app, client, login, world):
    login(client, "painter")
    assert _post(client, world.style_id).status_code == 201
    assert _balance(app, "painter") == 40


# --- reading and visibility --------------------------------------------------------------------


def _make(app, owner: str, *, n: int = 1, **overrides) -> list[int]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == owner)) or factories.create_user(owner)
        style = db.session.scalars(select(Style).where(Style.training_status == "completed")).first()
        ids = [factories.create_generation(user, style, **overrides).id for _ in range(n)]
        db.session.commit()
        return ids


def test_private_images_are_invisible_to_others_public_ones_are_in_the_feed(app, client, make_client, login, world):
    login(client, "owner")
    created = _post(client, world.style_id).get_json()["data"]
    [private_done] = _make(app, "owner", is_public=False)
    [public_done] = _make(app, "owner", is_public=True)
    [public_running] = _make(app, "owner", is_public=True, status="processing")

    stranger = make_client()
    login(stranger, "stranger")
    anonymous = make_client()
    for viewer in (stranger, anonymous):
        for hidden in (created["id"], private_done, public_running, 424242):
            response = viewer.get(f"/api/generations/{hidden}")
            assert response.status_code == 404
            assert response.get_json()["error"]["code"] == "NOT_FOUND"
        shown = viewer.get(f"/api/generations/{public_done}").get_json()["data"]
        assert shown["result_url"] and shown["thumbnail_url"] and shown["error_code"] is None
        feed = viewer.get("/api/generations/feed").get_json()["data"]
        assert [item["id"] for item in feed["results"]] == [public_done]

    for own in (created["id"], private_done, public_running):
        assert client.get(f"/api/generations/{own}").status_code == 200
    mine = client.get("/api/generations/me").get_json()["data"]
    assert sorted(item["id"] for item in mine["results"]) == sorted(
        [created["id"], private_done, public_done, public_running]
    )
    assert stranger.get("/api/generations/me").get_json()["data"]["results"] == []
    private = client.get("/api/generations/me?visibility=private").get_json()["data"]["results"]
    assert {item["id"] for item in private} == {created["id"], private_done}


def test_feed_and_my_list_page_newest_first(app, client, login, world):
    login(client, "owner")
    ids = _make(app, "owner", n=5, is_public=True)
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/generations/feed", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).get_json()["data"]
        seen += [item["id"] for item in page["results"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)
    page = client.get("/api/generations/me?limit=3").get_json()["data"]
    assert [item["id"] for item in page["results"]] == sorted(ids, reverse=True)[:3] and page["has_more"]
    assert client.get("/api/generations/feed?cursor=garbage").status_code == 422


def test_progress_is_shown_only_while_running(app, client, login, world):
    login(client, "owner")
    progress = {
        "current_step": 3,
        "total_steps": 30,
        "progress_percent": 10,
        "estimated_seconds": 9,
        "last_updated": "2026-01-01T00:00:00Z",
        "run_id": "internal",
    }
    [running] = _make(app, "owner", status="processing", progress=progress)
    [retrying] = _make(app, "owner", status="retrying", progress=progress)
    [queued] = _make(app, "owner", status="queued", progress=progress)
    [done] = _make(app, "owner", progress=progress)
    shown = client.get(f"/api/generations/{running}").get_json()["data"]["progress"]
    assert shown == {key: value for key, value in progress.items() if key != "run_id"}
    assert client.get(f"/api/generations/{retrying}").get_json()["data"]["progress"]["current_step"] == 3
    assert client.get(f"/api/generations/{queued}").get_json()["data"]["progress"] is None
    assert client.get(f"/api/generations/{done}").get_json()["data"]["progress"] is None


def test_owner_edits_visibility_and_description_others_cannot(app, client, make_client, login, world):
    login(client, "owner")
    [generation] = _make(app, "owner", is_public=False)
    stranger = make_client()
    login(stranger, "stranger")
    assert stranger.patch(f"/api/generations/{generation}", json={"is_public": True}).status_code == 404

    response = client.patch(
        f"/api/generations/{generation}", json={"is_public": True, "description": "<em>mine</em> & yours"}
    )
    assert response.status_code == 200
    assert response.get_json()["data"]["is_public"] is True
    assert response.get_json()["data"]["description"] == "mine & yours"
    assert stranger.get(f"/api/generations/{generation}").status_code == 200

    forbidden = stranger.patch(f"/api/generations/{generation}", json={"is_public": False})
    assert forbidden.status_code == 403
    assert client.patch(f"/api/generations/{generation}", json={"status": "failed"}).status_code == 422
    assert client.patch(f"/api/generations/{generation}", json={"is_public": False}).status_code == 200
    assert stranger.get(f"/api/generations/{generation}").status_code == 404
    assert client.delete(f"/api/generations/{generation}").status_code == 405


def test_openapi_lists_the_generation_routes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        "/api/generations",
        "/api/generations/{generation_id}",
        "/api/generations/me",
        "/api/generations/feed",
        "/api/webhooks/inference/progress",
        "/api/webhooks/inference/complete",
        "/api/webhooks/inference/failed",
    ):
        assert path in paths, path


# --- rate limit ---------------------------------------------------------------------------------


@pytest.fixture
def limited_client(app, database_url, tmp_path):
    """A client of an app with rate limiting on (the session app has it off)."""
    from stylelicense.app import create_app
    from tests.conftest import ApiClient, base_env

    limited = create_app(env=base_env(tmp_path, database_url, RATELIMIT_ENABLED="1"))
    limited.test_client_class = ApiClient
    return limited.test_client


def test_six_generations_per_minute_per_user(app, limited_client, login, world):
    first, second = limited_client(), limited_client()
    login(first, "hasty")
    login(second, "patient")
    statuses = [_post(first, world.style_id).status_code for _ in range(7)]
    assert statuses == [201] * 6 + [429]
    refused = _post(first, world.style_id)
    assert refused.get_json()["error"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) > 0
    assert _balance(app, "hasty") == 40  # the refused requests cost nothing
    assert _post(second, world.style_id).status_code == 201  # per user, not global
    assert first.get("/api/generations/me").status_code == 200  # only creation is limited this tightly
    # Other apps in the process keep their own setting (the session app has no limit).
    assert [_post(app.test_client(), world.style_id).status_code for _ in range(8)] == [401] * 8


def test_payload_survives_json_round_trip(app, client, login, world, broker_jobs):
    """The broker carries JSON only: the payload must be plain data."""
    login(client, "buyer")
    _post(client, world.style_id)
    [job] = broker_jobs()
    assert json.loads(json.dumps(job["kwargs"])) == job["kwargs"]


def test_feed_of_one_style_is_the_style_pages_gallery(app, client, login, world):
    login(client, "owner")
    ids = _make(app, "owner", n=2, is_public=True)  # in the world's trained style
    _make(app, "owner", is_public=False)
    with app.app_context():
        other = factories.create_style(factories.create_artist("elsewhere", "Else"), title="Other")
        elsewhere = factories.create_generation(factories.create_user("fan"), other, is_public=True).id
        db.session.commit()
    page = client.get("/api/generations/feed", query_string={"style_id": world.style_id}).get_json()["data"]
    assert [item["id"] for item in page["results"]] == sorted(ids, reverse=True)
    everything = client.get("/api/generations/feed").get_json()["data"]["results"]
    assert elsewhere in [item["id"] for item in everything]
