"""Tokens API without Toss keys: balance, packages, purchases through the labelled local sandbox,
the fail route, and the transaction history tabs."""

from __future__ import annotations

import re

from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.tokens import ledger, ledger_audit
from stylelicense.tokens.models import Purchase, Transaction

ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def buy(client, package_id: str = "basic_100"):
    response = client.post("/api/tokens/purchase", json={"package_id": package_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def confirm(client, order: dict, payment_key: str, amount: int | None = None):
    return client.post(
        "/api/tokens/purchase/confirm",
        json={
            "payment_key": payment_key,
            "order_id": order["order_id"],
            "amount": order["amount"] if amount is None else amount,
        },
    )


def test_everything_needs_a_login(client):
    for method, path in (
        ("get", "/api/tokens/balance"),
        ("get", "/api/tokens/packages"),
        ("get", "/api/tokens/transactions"),
        ("post", "/api/tokens/purchase"),
        ("post", "/api/tokens/purchase/confirm"),
    ):
        response = getattr(client, method)(path, json={} if method == "post" else None)
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_balance_and_packages(client, login):
    login(client, "alice")
    assert client.get("/api/tokens/balance").get_json()["data"] == {"token_balance": 100, "earned_token_balance": None}
    packages = client.get("/api/tokens/packages").get_json()["data"]
    assert packages == [
        {"id": "basic_100", "tokens": 100, "price": 10000, "currency": "KRW"},
        {"id": "standard_500", "tokens": 500, "price": 45000, "currency": "KRW"},
        {"id": "premium_1000", "tokens": 1000, "price": 80000, "currency": "KRW"},
    ]


def test_purchase_opens_a_pending_order_for_the_sandbox(app, client, login):
    me = login(client, "alice")
    first = buy(client, "standard_500")
    second = buy(client, "standard_500")
    assert first["amount"] == 45000 and first["currency"] == "KRW"
    assert first["order_name"] == "Style License 500 tokens"
    assert first["client_key"] is None  # no Toss keys: the SPA shows its sandbox page
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert (first["success_url"], first["fail_url"]) == (f"{base}/payment/success", f"{base}/payment/fail")
    assert ORDER_ID.match(first["order_id"]) and UUID.match(first["customer_key"])
    assert first["order_id"] != second["order_id"] and first["customer_key"] != second["customer_key"]
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == first["order_id"]))
        assert (purchase.user_id, purchase.status, purchase.tokens, purchase.amount) == (
            me["id"],
            "pending",
            500,
            45000,
        )
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100


def test_unknown_package_and_client_prices_are_refused(client, login):
    login(client, "alice")
    response = client.post("/api/tokens/purchase", json={"package_id": "mega_1000000"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "mega_1000000" in error["message"]
    assert error["details"]["fields"][0]["field"] == "package_id"
    sneaky = client.post("/api/tokens/purchase", json={"package_id": "basic_100", "amount": 1})
    assert sneaky.status_code == 422  # the client never sends a price
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100


def test_purchase_needs_csrf(client, login):
    login(client, "alice")
    response = client.post("/api/tokens/purchase", json={"package_id": "basic_100"}, csrf=False)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "CSRF_FAILED"


def test_sandbox_confirm_credits_once_and_is_labelled(app, client, login):
    login(client, "alice")
    order = buy(client, "premium_1000")
    response = confirm(client, order, "sandbox_0123abcd")
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["status"], data["token_balance"], data["tokens"], data["sandbox"]) == ("paid", 1100, 1000, True)
    again = confirm(client, order, "sandbox_0123abcd")  # the success page reloaded
    assert again.status_code == 200 and again.get_json()["data"]["token_balance"] == 1100
    history = client.get("/api/tokens/transactions?type=purchase").get_json()["data"]["results"]
    assert history[0]["memo"] == "SANDBOX: 1,000 tokens, no real payment"
    assert (history[0]["transaction_type"], history[0]["amount"], history[0]["balance_after"]) == (
        "purchase",
        1000,
        1100,
    )
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order["order_id"]))
        assert purchase.provider_response["sandbox"] is True
        assert "no real payment" in purchase.provider_response["note"]
        assert ledger_audit.verify_ledger() == []


def test_sandbox_fail_key_leaves_the_order_failed(app, client, login):
    login(client, "alice")
    order = buy(client)
    response = confirm(client, order, "sandbox_fail_1")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "PAYMENT_FAILED"
    assert error["details"]["provider_code"] == "SANDBOX_DECLINED" and error["details"]["status"] == "failed"
    retry = confirm(client, order, "sandbox_ok_now")  # a failed order stays failed
    assert retry.status_code == 400 and retry.get_json()["error"]["details"]["reason"] == "ORDER_CLOSED"
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100
    with app.app_context():
        assert db.session.scalar(select(Purchase.status).where(Purchase.order_id == order["order_id"])) == "failed"


def test_sandbox_refuses_real_looking_keys_and_wrong_amounts(client, login):
    login(client, "alice")
    order = buy(client)
    real = confirm(client, order, "tgen_20240101abcdef")
    assert real.status_code == 400 and real.get_json()["error"]["details"]["reason"] == "SANDBOX_ONLY"
    cheap = confirm(client, order, "sandbox_abc", amount=100)
    assert cheap.status_code == 400
    assert cheap.get_json()["error"]["details"] == {
        "reason": "AMOUNT_MISMATCH",
        "expected": 10000,
        "received": 100,
        "order_id": order["order_id"],
        "status": "pending",
    }
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100


def test_someone_elses_order_cannot_be_confirmed_or_failed(make_client, login):
    alice, mallory = make_client(), make_client()
    login(alice, "alice")
    login(mallory, "mallory")
    order = buy(alice)
    stolen = confirm(mallory, order, "sandbox_steal")
    assert stolen.status_code == 404 and stolen.get_json()["error"]["code"] == "NOT_FOUND"
    closed = mallory.post("/api/tokens/purchase/fail", json={"order_id": order["order_id"]})
    assert closed.status_code == 404
    assert mallory.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100
    # untouched: alice can still pay it
    assert confirm(alice, order, "sandbox_mine").get_json()["data"]["status"] == "paid"


def test_the_fail_route_closes_a_pending_order(app, client, login):
    login(client, "alice")
    order = buy(client)
    response = client.post(
        "/api/tokens/purchase/fail",
        json={"order_id": order["order_id"], "code": "SANDBOX_SIMULATED_FAILURE", "message": "Simulated failure"},
    )
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert (data["status"], data["failure_code"], data["token_balance"]) == ("failed", "SANDBOX_SIMULATED_FAILURE", 100)
    late = confirm(client, order, "sandbox_late")
    assert late.status_code == 400 and late.get_json()["error"]["details"]["reason"] == "ORDER_CLOSED"
    paid = buy(client)
    confirm(client, paid, "sandbox_paid")
    unchanged = client.post("/api/tokens/purchase/fail", json={"order_id": paid["order_id"]})
    assert unchanged.get_json()["data"]["status"] == "paid"  # a paid order is never "failed" afterwards
    with app.app_context():
        assert ledger_audit.verify_ledger() == []


def test_a_payment_key_cannot_pay_two_orders(client, login):
    login(client, "alice")
    first, second = buy(client), buy(client)
    assert confirm(client, first, "sandbox_same_key").status_code == 200
    replay = confirm(client, second, "sandbox_same_key")
    assert replay.status_code == 400 and replay.get_json()["error"]["details"]["reason"] == "PAYMENT_KEY_REUSED"
    other_key_on_paid = confirm(client, first, "sandbox_other_key")
    assert other_key_on_paid.status_code == 400
    assert other_key_on_paid.get_json()["error"]["details"]["reason"] == "ALREADY_PAID"
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 200


def test_confirm_validates_its_body(client, login):
    login(client, "alice")
    for body in (
        {"payment_key": "sandbox_x", "order_id": "bad id!", "amount": 10000},
        {"payment_key": "", "order_id": "sl_abcdef", "amount": 10000},
        {"payment_key": "sandbox_x", "order_id": "sl_abcdef", "amount": -5},
        {"payment_key": "sandbox_x", "order_id": "sl_abcdef"},
    ):
        response = client.post("/api/tokens/purchase/confirm", json=body)
        assert response.status_code == 422, body
    unknown = client.post(
        "/api/tokens/purchase/confirm", json={"payment_key": "sandbox_x", "order_id": "sl_nothing", "amount": 10000}
    )
    assert unknown.status_code == 404


# --- history ----------------------------------------------------------------------------------------


def _spend_and_refund(app, username: str) -> None:
    """Two image charges (one refunded), plus an earning as an artist: rows of every tab."""
    from stylelicense.users.models import User
    from tests.test_ledger import make_generation, make_style

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        style = make_style("history_artist", price=30)
        first, second = make_generation(user, style), make_generation(user, style)
        ledger.charge_for_generation(first, style.title)
        ledger.charge_for_generation(second, style.title)
        ledger.refund_generation(second, "GPU failure")
        ledger.grant_tokens(user, 5, memo="Sorry for the wait", key="apology")
        db.session.commit()


def test_transactions_tabs_newest_first(app, client, login):
    login(client, "alice")
    order = buy(client)
    confirm(client, order, "sandbox_tabs")
    _spend_and_refund(app, "alice")

    def tab(kind: str):
        response = client.get(f"/api/tokens/transactions?type={kind}")
        assert response.status_code == 200
        return response.get_json()["data"]

    purchases = tab("purchase")["results"]
    assert [(r["transaction_type"], r["amount"], r["direction"]) for r in purchases] == [
        ("grant", 5, "in"),
        ("purchase", 100, "in"),
        ("welcome_bonus", 100, "in"),
    ]
    assert purchases[2]["memo"] == "Welcome Bonus" and purchases[2]["balance_after"] == 100
    usage = tab("usage")["results"]
    assert [(r["transaction_type"], r["amount"], r["direction"], r["balance_after"]) for r in usage] == [
        ("refund", 30, "in", 170),
        ("generation_charge", 30, "out", 140),
        ("generation_charge", 30, "out", 170),
    ]
    assert usage[0]["related_generation_id"] == usage[1]["related_generation_id"] is not None
    assert usage[0]["memo"] == "Refund: GPU failure" and usage[2]["memo"] == "Image in “Ink Washes”"
    everything = tab("all")["results"]
    assert len(everything) == 6 and everything[0]["balance_after"] == 175
    assert set(everything[0]) == {
        "id",
        "transaction_type",
        "amount",
        "direction",
        "status",
        "memo",
        "balance_after",
        "account",
        "related_generation_id",
        "created_at",
    }
    assert all(r["status"] == "completed" and r["created_at"].endswith("Z") for r in everything)
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 175
    assert client.get("/api/tokens/transactions?type=refunds").status_code == 422


def test_an_artists_all_tab_shows_earnings_on_the_earned_account(app, make_client, login):
    buyer = make_client()
    login(buyer, "alice")
    _spend_and_refund(app, "alice")
    from stylelicense.generations.models import Generation
    from stylelicense.users.models import User

    with app.app_context():
        generation = db.session.scalar(select(Generation).order_by(Generation.id))
        ledger.credit_artist_for_generation(generation, generation.style.artist)
        artist_user = db.session.get(User, generation.style.artist.user_id)
        artist_user.google_sub = f"dev:{artist_user.email}"  # so the dev login finds this account
        db.session.commit()
        artist_username = artist_user.username
        artist_email = artist_user.email
    artist = make_client()
    login(artist, artist_username, artist_email)
    rows = artist.get("/api/tokens/transactions?type=all").get_json()["data"]["results"]
    assert [(r["transaction_type"], r["amount"], r["direction"], r["account"], r["balance_after"]) for r in rows] == [
        ("artist_credit", 30, "in", "earned", 30)
    ]
    assert artist.get("/api/tokens/transactions?type=usage").get_json()["data"]["results"] == []
    assert artist.get("/api/tokens/balance").get_json()["data"] == {"token_balance": 0, "earned_token_balance": 30}


def test_transactions_paginate_with_a_cursor(app, client, login):
    me = login(client, "alice")
    with app.app_context():
        from stylelicense.users.models import User

        user = db.session.get(User, me["id"])
        for i in range(7):
            ledger.grant_tokens(user, i + 1, memo=f"grant {i}", key=f"page-{i}")
        db.session.commit()
    seen, cursor = [], None
    while True:
        url = "/api/tokens/transactions?type=all&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()["data"]
        assert len(page["results"]) <= 3
        seen += [row["id"] for row in page["results"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    with app.app_context():
        expected = db.session.scalars(
            select(Transaction.id).where(Transaction.user_id == me["id"]).order_by(Transaction.id.desc())
        ).all()
    assert seen == expected and len(seen) == 8
    assert client.get("/api/tokens/transactions?limit=0").status_code == 422
    assert client.get("/api/tokens/transactions?cursor=garbage").status_code == 422


def test_history_is_private(make_client, login):
    alice, bob = make_client(), make_client()
    login(alice, "alice")
    login(bob, "bob")
    confirm(alice, buy(alice), "sandbox_private")
    rows = bob.get("/api/tokens/transactions?type=all").get_json()["data"]["results"]
    assert [r["transaction_type"] for r in rows] == ["welcome_bonus"]


def test_no_sandbox_in_production(app, client, login, monkeypatch):
    login(client, "alice")
    order = buy(client)
    # even if SANDBOX_CHECKOUT were left on, production never takes a sandbox payment
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    monkeypatch.setitem(app.config, "SANDBOX_CHECKOUT", True)
    refused = confirm(client, order, "sandbox_free_tokens")
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "PAYMENTS_UNAVAILABLE"
    opened = client.post("/api/tokens/purchase", json={"package_id": "basic_100"})
    assert opened.status_code == 503 and opened.get_json()["error"]["code"] == "PAYMENTS_UNAVAILABLE"
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == 100
    with app.app_context():
        assert db.session.scalar(select(Purchase.status).where(Purchase.order_id == order["order_id"])) == "pending"
