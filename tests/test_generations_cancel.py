"""Cancel (SPEC §13): the owner cancels a queued generation — `cancelled`, one full refund in the
ledger, no artist credit; a started one answers 409 GENERATION_STARTED; a worker that still receives
the cancelled job does nothing (its start report answers GENERATION_FINISHED; a late result is removed)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.storage import get_storage
from stylelicense.tokens.ledger_audit import verify_ledger
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import Artist, User
from tests import factories
from tests.test_inference_webhooks import _complete, _start, _store_outputs


@pytest.fixture
def gen(app, client, login):
    """A queued generation bought through the API (10 tokens charged) and its owner's client."""
    return factories.bought_generation(app, client, login)


def _movements(app, generation_id):
    with app.app_context():
        return db.session.execute(
            select(Transaction.transaction_type, Transaction.amount)
            .where(Transaction.related_generation_id == generation_id)
            .order_by(Transaction.id)
        ).all()


def _balance(app, username="buyer"):
    with app.app_context():
        return db.session.scalar(select(User.token_balance).where(User.username == username))


def test_owner_cancels_a_queued_generation_and_gets_every_token_back_once(app, gen):
    before = _balance(app)
    response = gen.client.post(f"/api/generations/{gen.id}/cancel")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["status"] == "cancelled"
    assert _balance(app) == before + 10
    assert _movements(app, gen.id) == [("generation_charge", 10), ("refund", 10)]
    # Again: the same answer, nothing moves twice.
    again = gen.client.post(f"/api/generations/{gen.id}/cancel")
    assert again.status_code == 200 and again.get_json()["data"]["status"] == "cancelled"
    assert _movements(app, gen.id) == [("generation_charge", 10), ("refund", 10)]
    history = gen.client.get("/api/tokens/transactions?type=all").get_json()["data"]["results"]
    refund = next(row for row in history if row["transaction_type"] == "refund")
    assert refund["related_generation_id"] == gen.id and "cancelled" in refund["memo"]
    with app.app_context():
        assert verify_ledger() == []


def test_a_started_generation_cannot_be_cancelled(app, gen):
    assert _start(gen.client, gen.id).status_code == 200
    response = gen.client.post(f"/api/generations/{gen.id}/cancel")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "GENERATION_STARTED"
    assert _movements(app, gen.id) == [("generation_charge", 10)]
    assert gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]["status"] == "processing"


def test_only_the_owner_can_cancel(app, gen, make_client, login):
    stranger = make_client()
    login(stranger, "stranger")
    response = stranger.post(f"/api/generations/{gen.id}/cancel")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    anonymous = make_client()
    assert anonymous.post(f"/api/generations/{gen.id}/cancel").status_code == 401
    assert gen.client.post("/api/generations/999999/cancel").status_code == 404
    assert _movements(app, gen.id) == [("generation_charge", 10)]


def test_a_worker_that_still_gets_the_cancelled_job_does_nothing(app, gen):
    assert gen.client.post(f"/api/generations/{gen.id}/cancel").status_code == 200
    started = _start(gen.client, gen.id)
    assert started.status_code == 409
    assert started.get_json()["error"]["code"] == "GENERATION_FINISHED"
    # Even a result that arrives anyway is not delivered: no artist credit, the files are removed.
    _store_outputs(app, gen)
    assert _complete(gen.client, gen).status_code == 200
    data = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    assert data["status"] == "cancelled" and data["result_url"] is None
    assert _movements(app, gen.id) == [("generation_charge", 10), ("refund", 10)]
    with app.app_context():
        assert db.session.get(Artist, gen.artist_id).earned_token_balance == 0
        assert not get_storage().exists(gen.result_key, public=True)
        assert db.session.get(Generation, gen.id).status == "cancelled"


def test_the_display_copy_stored_next_to_the_result_is_served_for_pages(app, gen):
    """The worker stores `<result>-display.webp` beside the signed PNG: the API gives it as display_url,
    and keeps result_url for the download."""
    from stylelicense.jobs.payloads import display_key_for

    _store_outputs(app, gen)
    with app.app_context():
        get_storage().put(display_key_for(gen.result_key), b"webp", public=True)
    assert _complete(gen.client, gen).status_code == 200
    data = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]
    # A private image's files move to new private keys on delivery and are served by signed URLs.
    display, result = data["display_url"].split("?", 1)[0], data["result_url"].split("?", 1)[0]
    assert display.endswith("-display.webp") and result.endswith(".png")
    assert display.removesuffix("-display.webp") == result.removesuffix(".png")  # one pair, side by side
    assert gen.client.get(data["display_url"]).data == b"webp"


def test_the_download_has_a_meaningful_file_name(app, gen):
    _store_outputs(app, gen)
    assert _complete(gen.client, gen).status_code == 200
    url = gen.client.get(f"/api/generations/{gen.id}").get_json()["data"]["result_url"]
    path = url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url.lstrip("/")
    path, _, signed_query = path.partition("?")  # private images are served by signed URLs
    query = dict(part.split("=", 1) for part in signed_query.split("&") if part)
    response = gen.client.get(f"/{path}", query_string={**query, "download": "style-license-수채화의 꿈-7.png"})
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''style-license-" in disposition
    assert "%EC%88%98%EC%B1%84%ED%99%94%EC%9D%98-%EA%BF%88-7.png" in disposition  # 수채화의-꿈-7.png
    assert gen.client.get(f"/{path}", query_string=query).headers["Content-Disposition"].startswith("inline")
