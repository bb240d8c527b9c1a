"""The artist dashboard (SPEC §13): earnings per day and per style from the ledger, recent licences,
artists only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from stylelicense.extensions import db
from stylelicense.models import utcnow
from stylelicense.provenance import operations as provenance
from stylelicense.provenance.serials import format_serial
from stylelicense.tokens import ledger
from stylelicense.tokens.models import Transaction
from tests import factories


def _sell(buyer, style, *, days_ago: int = 0, deliver: bool = True):
    """A paid generation; delivered ones credit the artist and complete the licence."""
    generation = factories.create_generation(buyer, style, status="completed" if deliver else "queued")
    ledger.charge_for_generation(generation, style.title)
    licence = provenance.ensure_licence(generation, style, buyer)
    if deliver:
        credit = ledger.credit_artist_for_generation(generation, style.artist)
        licence.delivered_at = utcnow() - timedelta(days=days_ago)
        db.session.execute(
            update(Transaction)
            .where(Transaction.id == credit.id)
            .values(created_at=utcnow() - timedelta(days=days_ago))
        )
    db.session.flush()
    return licence


def test_dashboard_sums_the_ledger_per_day_and_per_style(app, client, login):
    with app.app_context():
        artist = factories.create_artist("earner", "Earner")
        style = factories.create_style(artist, title="Ink", generation_cost_tokens=10, is_paused=True)
        buyer = factories.create_user("buyer1")
        ledger.grant_tokens(buyer, 100, memo="t", key="b1")
        _sell(buyer, style)
        _sell(buyer, style)
        _sell(buyer, style, days_ago=3)
        _sell(buyer, style, days_ago=40)  # outside the 30-day period, inside the total
        latest = _sell(buyer, style, deliver=False)  # not delivered: no credit, not listed
        db.session.commit()
        style_id, buyer_id, undelivered = style.id, buyer.id, latest.serial

    login(client, "earner")
    response = client.get("/api/artists/me/dashboard?days=30")
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["earned_total"] == 40
    assert data["earned_in_period"] == 30
    assert len(data["daily"]) == 30
    assert data["daily"][-1]["date"] == utcnow().date().isoformat()
    assert (data["daily"][-1]["tokens"], data["daily"][-1]["generations"]) == (20, 2)
    assert (data["daily"][-4]["tokens"], data["daily"][-4]["generations"]) == (10, 1)
    assert sum(day["tokens"] for day in data["daily"]) == 30
    assert data["styles"] == [
        {
            "id": style_id,
            "title": "Ink",
            "training_status": "completed",
            "is_paused": True,
            "generation_cost_tokens": 10,
            "generations": 4,
            "earned": 40,
        }
    ]
    licences = data["recent_licences"]
    assert len(licences) == 4
    assert all(item["licensee"] == {"id": buyer_id, "username": "buyer1"} for item in licences)
    assert format_serial(undelivered) not in {item["serial"] for item in licences}

    week = client.get("/api/artists/me/dashboard?days=7").get_json()["data"]
    assert len(week["daily"]) == 7 and week["earned_in_period"] == 30


def test_dashboard_is_for_artists_only_and_validates_days(client, login):
    assert client.get("/api/artists/me/dashboard").status_code == 401
    login(client, "plainuser")
    response = client.get("/api/artists/me/dashboard")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "ARTIST_ONLY"


def test_dashboard_rejects_a_bad_period(client, make_artist):
    make_artist(client, "newartist")
    assert client.get("/api/artists/me/dashboard?days=0").status_code == 422
    assert client.get("/api/artists/me/dashboard?days=366").status_code == 422
    empty = client.get("/api/artists/me/dashboard").get_json()["data"]
    assert empty["earned_total"] == 0 and empty["styles"] == [] and empty["recent_licences"] == []
    assert len(empty["daily"]) == 30
