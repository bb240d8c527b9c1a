"""Pausing a style (SPEC §13) and the price guard of ``POST /api/generations``: a paused style leaves
lists, search and feed links, its page says so, and neither refusal charges or queues anything."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.styles.models import Style
from stylelicense.tokens.ledger_audit import verify_ledger
from stylelicense.users.models import User
from tests import factories


@pytest.fixture
def world(app):
    """Artist ``pat`` with a trained style "Ink Wash" (10 tokens) and a public generation of it."""
    with app.app_context():
        artist = factories.create_artist("pat", "Painter Pat")
        style = factories.create_style(
            artist,
            title="Ink Wash",
            lora_key="styles/1/lora.safetensors",
            generation_cost_tokens=10,
            trigger="ink wash",
        )
        factories.create_generation(style=style, is_public=True)
        db.session.commit()
        return SimpleNamespace(style_id=style.id)


def _balance(app, username):
    with app.app_context():
        return db.session.scalar(select(User.token_balance).where(User.username == username))


def _generations(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Generation)
            .where(Generation.user_id.isnot(None))
            .join(User)
            .where(User.username == "buyer")
        )


def _listed(client) -> list[int]:
    return [s["id"] for s in client.get("/api/styles").get_json()["data"]["results"]]


def _searched(client) -> list[int]:
    return [style["id"] for style in client.get("/api/search?q=ink").get_json()["data"]["styles"]]


def test_owner_pauses_and_resumes_and_the_style_leaves_lists_search_and_feed_links(client, make_client, login, world):
    buyer = make_client()
    login(buyer, "buyer")
    assert world.style_id in _listed(buyer) and world.style_id in _searched(buyer)

    login(client, "pat")
    response = client.patch(f"/api/styles/{world.style_id}", json={"is_paused": True})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["is_paused"] is True

    assert world.style_id not in _listed(buyer)
    assert world.style_id not in _searched(buyer)
    page = buyer.get(f"/api/styles/{world.style_id}").get_json()["data"]  # its page still opens, marked paused
    assert page["is_paused"] is True
    feed = buyer.get("/api/generations/feed").get_json()["data"]["results"]
    assert feed and all(item["style"]["is_paused"] is True for item in feed)

    assert client.patch(f"/api/styles/{world.style_id}", json={"is_paused": False}).status_code == 200
    assert world.style_id in _listed(buyer) and world.style_id in _searched(buyer)
    assert buyer.get(f"/api/styles/{world.style_id}").get_json()["data"]["is_paused"] is False


def test_only_the_owner_can_pause(client, login, world):
    login(client, "mallory")
    response = client.patch(f"/api/styles/{world.style_id}", json={"is_paused": True})
    assert response.status_code == 403
    assert client.get(f"/api/styles/{world.style_id}").get_json()["data"]["is_paused"] is False


def test_generation_of_a_paused_style_is_refused_and_nothing_is_charged(app, client, login, world):
    with app.app_context():
        db.session.get(Style, world.style_id).is_paused = True
        db.session.commit()
    login(client, "buyer")
    response = client.post(
        "/api/generations", json={"style_id": world.style_id, "prompt_tags": ["cat"], "expected_cost_tokens": 10}
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "STYLE_PAUSED"
    assert _balance(app, "buyer") == 100
    assert _generations(app) == 0
    with app.app_context():
        assert verify_ledger() == []


def test_changed_price_is_refused_with_the_current_price_and_nothing_is_charged(app, client, login, world):
    login(client, "buyer")
    response = client.post(
        "/api/generations", json={"style_id": world.style_id, "prompt_tags": ["cat"], "expected_cost_tokens": 5}
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "PRICE_CHANGED"
    assert error["details"]["current_cost_tokens"] == 10
    assert _balance(app, "buyer") == 100
    assert _generations(app) == 0

    # Asked again with the price it was shown: charged exactly that.
    again = client.post(
        "/api/generations", json={"style_id": world.style_id, "prompt_tags": ["cat"], "expected_cost_tokens": 10}
    )
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["data"]["cost_tokens"] == 10
    assert _balance(app, "buyer") == 90
    assert _generations(app) == 1
