"""Purchases against the loopback fake Toss (tests/fakes/toss_server.py): confirm, refusals, reconciling
lookups, the payment webhook, and concurrent confirms + webhooks crediting exactly once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from stylelicense.extensions import db
from stylelicense.tokens import ledger_audit
from stylelicense.tokens.models import Purchase, Transaction
from tests.conftest import wait_for
from tests.fakes.toss_server import FakeToss


@pytest.fixture(scope="module")
def toss():
    with FakeToss() as fake:
        yield fake


@pytest.fixture(scope="module")
def toss_app(database_url, tmp_path_factory, toss):
    """The app with Toss test keys, pointed at the fake (short timeouts, quick retries)."""
    from conftest import ApiClient, base_env

    from stylelicense.app import create_app

    env = base_env(
        tmp_path_factory.mktemp("toss"),
        database_url,
        TOSS_SECRET_KEY=toss.secret_key,
        TOSS_CLIENT_KEY=toss.client_key,
        TOSS_API_BASE=toss.base_url,
    )
    application = create_app(env=env, TOSS_TIMEOUT=3.0, TOSS_RETRIES=2, TOSS_BACKOFF=0.01)
    application.test_client_class = ApiClient
    assert application.config["SANDBOX_CHECKOUT"] is False
    return application


@pytest.fixture(autouse=True)
def _fresh_toss(toss):
    toss.reset()


@pytest.fixture
def new_client(toss_app):
    return toss_app.test_client


@pytest.fixture
def alice(new_client, login):
    client = new_client()
    client.me = login(client, "alice")
    return client


def balance(client) -> int:
    return client.get("/api/tokens/balance").get_json()["data"]["token_balance"]


def open_order(client, package_id: str = "standard_500") -> dict:
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


def purchase_row(app, order_id: str) -> Purchase:
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        db.session.expunge(purchase)
        return purchase


def credits_for(app, order_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.idempotency_key == f"purchase:{order_id}")
        )


def assert_ledger_clean(app) -> None:
    with app.app_context():
        assert [str(d) for d in ledger_audit.verify_ledger()] == []


def refused(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "PAYMENT_FAILED" and error["message"]
    return error["details"]


# --- happy path ---------------------------------------------------------------------------------------


def test_checkout_carries_the_client_key(toss_app, toss, alice):
    order = open_order(alice)
    assert order["client_key"] == toss.client_key and order["amount"] == 45000


def test_confirm_credits_once_with_the_per_order_idempotency_key(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"], customer_key=order["customer_key"])
    response = confirm(alice, order, payment_key)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["status"], data["token_balance"], data["tokens"], data["sandbox"]) == ("paid", 600, 500, False)
    confirms = [r for r in toss.requests if r["endpoint"] == "confirm"]
    assert [r["idempotency_key"] for r in confirms] == [f"confirm:{order['order_id']}"]
    again = confirm(alice, order, payment_key)
    assert again.status_code == 200 and again.get_json()["data"]["token_balance"] == 600
    assert toss.calls["confirm"] == 1  # a paid order is answered from the database
    purchase = purchase_row(toss_app, order["order_id"])
    assert (purchase.status, purchase.payment_key) == ("paid", payment_key)
    assert purchase.provider_response["status"] == "DONE" and purchase.paid_at is not None
    assert credits_for(toss_app, order["order_id"]) == 1
    assert_ledger_clean(toss_app)


def test_no_database_lock_is_held_while_toss_is_called(toss_app, toss, alice, database_url):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.delay_next(1.5)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("response", confirm(alice, order, payment_key)))
    worker.start()
    wait_for(lambda: toss.calls["confirm"], timeout=10, interval=0.02, message="the confirm call to reach Toss")
    assert toss.calls["confirm"] == 1
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:  # NOWAIT: fails at once if the request holds these rows
            status = connection.execute(
                text("SELECT status FROM purchases WHERE order_id = :o FOR UPDATE NOWAIT"), {"o": order["order_id"]}
            ).scalar_one()
            connection.execute(text("SELECT id FROM users WHERE id = :u FOR UPDATE NOWAIT"), {"u": alice.me["id"]})
    finally:
        engine.dispose()
    assert status == "confirming"  # committed before the call, visible to everyone
    worker.join(15)
    assert result["response"].status_code == 200
    assert result["response"].get_json()["data"]["status"] == "paid"


# --- refused without credit ---------------------------------------------------------------------------


def test_wrong_amount_is_refused_before_calling_toss(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    details = refused(confirm(alice, order, payment_key, amount=100))
    assert details["reason"] == "AMOUNT_MISMATCH" and details["expected"] == 45000
    assert toss.calls["confirm"] == 0
    assert balance(alice) == 100
    assert purchase_row(toss_app, order["order_id"]).status == "pending"  # the real payment can still go on
    assert confirm(alice, order, payment_key).get_json()["data"]["token_balance"] == 600


def test_someone_elses_order_is_refused_before_calling_toss(toss_app, toss, alice, new_client, login):
    mallory = new_client()
    login(mallory, "mallory")
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    response = confirm(mallory, order, payment_key)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    assert toss.calls["confirm"] == 0
    assert balance(mallory) == 100 and balance(alice) == 100
    assert purchase_row(toss_app, order["order_id"]).status == "pending"


def test_unknown_package_is_refused(toss_app, alice):
    response = alice.post("/api/tokens/purchase", json={"package_id": "free_tokens"})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert balance(alice) == 100


def test_unknown_payment_key_is_refused_and_closes_the_order(toss_app, toss, alice):
    order = open_order(alice)
    details = refused(confirm(alice, order, "tgen_made_up_key"))
    assert (details["reason"], details["provider_code"]) == ("NOT_CONFIRMED", "NOT_FOUND_PAYMENT_SESSION")
    # Toss replays its answer to `confirm:<orderId>` for 15 days, so this order can never be confirmed now
    assert details["status"] == "failed"
    assert balance(alice) == 100 and credits_for(toss_app, order["order_id"]) == 0
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    closed = refused(confirm(alice, order, payment_key))
    assert closed["reason"] == "ORDER_CLOSED" and toss.calls["confirm"] == 1
    fresh = open_order(alice)  # the customer starts a new purchase
    assert confirm(alice, fresh, toss.create_checkout(fresh["order_id"], fresh["amount"])).status_code == 200
    assert balance(alice) == 600
    assert_ledger_clean(toss_app)


def test_a_replayed_payment_key_pays_no_other_order(toss_app, toss, alice):
    first = open_order(alice)
    payment_key = toss.create_checkout(first["order_id"], first["amount"])
    assert confirm(alice, first, payment_key).status_code == 200
    second = open_order(alice)
    details = refused(confirm(alice, second, payment_key))
    assert details["reason"] == "PAYMENT_KEY_REUSED"
    assert toss.calls["confirm"] == 1
    # even if our record of the key were missing, Toss's own answer would not match the second order
    with toss_app.app_context():
        db.session.execute(
            text("UPDATE purchases SET payment_key = NULL WHERE order_id = :o"), {"o": first["order_id"]}
        )
        db.session.commit()
    details = refused(confirm(alice, second, payment_key))
    assert details["provider_code"] in ("NOT_FOUND_PAYMENT_SESSION", "ALREADY_PROCESSED_PAYMENT")
    assert balance(alice) == 600 and credits_for(toss_app, second["order_id"]) == 0
    assert purchase_row(toss_app, second["order_id"]).status == "failed"


def test_done_with_a_mismatching_amount_is_never_credited(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.set_amount_override(payment_key, 450)  # Toss reports a total that is not our order's
    details = refused(confirm(alice, order, payment_key))
    assert details["reason"] == "PAYMENT_MISMATCH" and details["status"] == "failed"
    assert balance(alice) == 100 and credits_for(toss_app, order["order_id"]) == 0
    purchase = purchase_row(toss_app, order["order_id"])
    assert purchase.failure_code == "AMOUNT_MISMATCH" and purchase.provider_response["totalAmount"] == 450
    webhook = alice.post("/api/webhooks/toss/payment", json=toss.webhook_event(payment_key), csrf=False)
    assert webhook.get_json()["data"]["action"] == "mismatch"  # nor by the webhook
    assert balance(alice) == 100
    assert_ledger_clean(toss_app)


def test_card_company_rejection_fails_the_order(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.fail_next("REJECT_CARD_COMPANY")
    details = refused(confirm(alice, order, payment_key))
    assert (details["reason"], details["provider_code"], details["status"]) == (
        "PAYMENT_FAILED",
        "REJECT_CARD_COMPANY",
        "failed",
    )
    assert toss.calls["confirm"] == 1  # a refusal is not retried
    assert balance(alice) == 100
    purchase = purchase_row(toss_app, order["order_id"])
    assert (purchase.status, purchase.failure_code) == ("failed", "REJECT_CARD_COMPANY")
    assert_ledger_clean(toss_app)


def test_card_rejection_fails_the_order_even_if_the_lookup_is_unavailable(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.fail_next("REJECT_CARD_PAYMENT")
    toss.fail_next("PROVIDER_ERROR", times=3, endpoint="get_payment_by_order")
    details = refused(confirm(alice, order, payment_key))
    assert (details["reason"], details["provider_code"]) == ("PAYMENT_DECLINED", "REJECT_CARD_PAYMENT")
    assert purchase_row(toss_app, order["order_id"]).status == "failed"


def test_provider_error_after_retries_is_refused_and_retryable(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.fail_next("PROVIDER_ERROR", times=3)
    details = refused(confirm(alice, order, payment_key), status=503)
    assert (details["reason"], details["provider_code"], details["retryable"]) == (
        "PROVIDER_UNAVAILABLE",
        "PROVIDER_ERROR",
        True,
    )
    assert toss.calls["confirm"] == 3  # 1 + 2 retries, same Idempotency-Key
    assert balance(alice) == 100
    assert purchase_row(toss_app, order["order_id"]).status == "pending"
    retry = confirm(alice, order, payment_key)  # Toss is back
    assert retry.status_code == 200 and retry.get_json()["data"]["token_balance"] == 600
    assert_ledger_clean(toss_app)


def test_confirm_timeout_is_reconciled_by_looking_the_payment_up(toss_app, toss, alice, monkeypatch):
    monkeypatch.setitem(toss_app.config, "TOSS_TIMEOUT", 0.4)
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.delay_next(2.0, times=3)  # approved at Toss, but no answer arrives on any attempt
    response = confirm(alice, order, payment_key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["status"] == "paid" and balance(alice) == 600
    assert toss.calls["confirm"] == 3 and toss.calls["get_payment_by_order"] == 1
    assert credits_for(toss_app, order["order_id"]) == 1


def test_timeout_with_toss_unreachable_keeps_the_order_confirming(toss_app, toss, alice, monkeypatch):
    monkeypatch.setitem(toss_app.config, "TOSS_TIMEOUT", 0.3)
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.delay_next(2.0, times=3)
    toss.fail_next("PROVIDER_ERROR", times=3, endpoint="get_payment_by_order")
    details = refused(confirm(alice, order, payment_key), status=503)
    assert details["status"] == "confirming" and details["retryable"] is True
    assert balance(alice) == 100  # outcome unknown: nothing credited yet...
    response = alice.post("/api/webhooks/toss/payment", json=toss.webhook_event(payment_key), csrf=False)
    assert response.get_json()["data"]["action"] == "credited"  # ...until Toss's webhook settles it
    assert balance(alice) == 600
    assert confirm(alice, order, payment_key).get_json()["data"]["status"] == "paid"
    assert credits_for(toss_app, order["order_id"]) == 1


def test_already_processed_is_reconciled_by_lookup(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.set_status(payment_key, "DONE")  # confirmed elsewhere (another tab, before a crash)
    response = confirm(alice, order, payment_key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["token_balance"] == 600
    assert toss.calls["get_payment_by_order"] == 1


def test_an_expired_payment_fails_the_order(toss_app, toss, alice):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.set_status(payment_key, "EXPIRED")
    details = refused(confirm(alice, order, payment_key))
    assert details["status"] == "failed"
    assert purchase_row(toss_app, order["order_id"]).failure_code == "EXPIRED"
    assert balance(alice) == 100


# --- webhook ------------------------------------------------------------------------------------------


def post_webhook(client, toss, payment_key: str) -> dict:
    response = client.post("/api/webhooks/toss/payment", json=toss.webhook_event(payment_key), csrf=False)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def test_webhook_is_only_a_hint(toss_app, toss, alice, new_client):
    anonymous = new_client()
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    forged = toss.webhook_event(payment_key)
    forged["data"]["status"] = "DONE"  # the body lies; Toss says IN_PROGRESS
    response = anonymous.post("/api/webhooks/toss/payment", json=forged, csrf=False)
    assert response.status_code == 200 and response.get_json()["data"]["action"] == "in_progress"
    assert toss.calls["get_payment"] == 1
    assert balance(alice) == 100 and purchase_row(toss_app, order["order_id"]).status == "pending"


def test_webhook_credits_a_payment_done_at_toss_once(toss_app, toss, alice, new_client):
    anonymous = new_client()
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.set_status(payment_key, "DONE")  # e.g. the browser never came back to success_url
    assert post_webhook(anonymous, toss, payment_key)["action"] == "credited"
    assert post_webhook(anonymous, toss, payment_key)["action"] == "already_paid"
    assert balance(alice) == 600
    # the browser comes back late: paid, no second credit, Toss not asked to confirm again
    assert confirm(alice, order, payment_key).get_json()["data"]["token_balance"] == 600
    assert toss.calls["confirm"] == 0
    assert_ledger_clean(toss_app)


def test_webhook_events_out_of_order(toss_app, toss, alice, new_client):
    anonymous = new_client()
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    stale = toss.webhook_event(payment_key)  # IN_PROGRESS, delivered late
    assert confirm(alice, order, payment_key).status_code == 200
    late = anonymous.post("/api/webhooks/toss/payment", json=stale, csrf=False)
    assert late.get_json()["data"]["action"] == "already_paid"
    assert purchase_row(toss_app, order["order_id"]).status == "paid" and balance(alice) == 600


def test_webhook_closes_aborted_and_canceled_payments(toss_app, toss, alice, new_client):
    anonymous = new_client()
    aborted, canceled = open_order(alice), open_order(alice)
    key_a = toss.create_checkout(aborted["order_id"], aborted["amount"])
    key_c = toss.create_checkout(canceled["order_id"], canceled["amount"])
    toss.set_status(key_a, "ABORTED")
    toss.set_status(key_c, "CANCELED")
    assert post_webhook(anonymous, toss, key_a)["action"] == "failed"
    assert post_webhook(anonymous, toss, key_c)["action"] == "canceled"
    assert purchase_row(toss_app, aborted["order_id"]).status == "failed"
    assert purchase_row(toss_app, canceled["order_id"]).status == "canceled"
    # a paid order is not closed by a late ABORTED event (its cancellation: tests/test_purchase_sweep.py)
    paid = open_order(alice)
    key_p = toss.create_checkout(paid["order_id"], paid["amount"])
    confirm(alice, paid, key_p)
    stale = toss.webhook_event(key_p)
    stale["data"]["status"] = "ABORTED"
    response = anonymous.post("/api/webhooks/toss/payment", json=stale, csrf=False)
    assert response.get_json()["data"]["action"] == "already_paid"  # re-fetched: Toss says DONE
    assert purchase_row(toss_app, paid["order_id"]).status == "paid" and balance(alice) == 600
    assert_ledger_clean(toss_app)


def test_webhook_answers_200_for_what_it_cannot_use(toss_app, toss, new_client):
    anonymous = new_client()
    stranger_key = toss.create_checkout("not_our_order_1", 1000)
    assert post_webhook(anonymous, toss, stranger_key)["action"] == "unknown_order"
    unknown = anonymous.post(
        "/api/webhooks/toss/payment",
        json={"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "tgen_nope"}},
        csrf=False,
    )
    assert unknown.status_code == 200 and unknown.get_json()["data"]["action"] == "lookup_failed"
    empty = anonymous.post("/api/webhooks/toss/payment", json={"eventType": "DEPOSIT_CALLBACK"}, csrf=False)
    assert empty.status_code == 200 and empty.get_json()["data"]["action"] == "ignored_no_payment"


def test_webhook_with_toss_down_answers_quickly(toss_app, toss, alice, new_client):
    order = open_order(alice)
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    toss.fail_next("PROVIDER_ERROR", times=5, endpoint="get_payment")
    started = time.monotonic()
    assert post_webhook(new_client(), toss, payment_key)["action"] == "lookup_failed"
    assert time.monotonic() - started < 2
    assert toss.calls["get_payment"] == 1  # one quick attempt; Toss's own retries come later


# --- concurrency --------------------------------------------------------------------------------------


def test_twenty_concurrent_confirms_and_webhooks_credit_exactly_once(toss_app, toss, new_client, login):
    confirmers, hooks = 20, 10
    clients = []
    for _ in range(confirmers):
        client = new_client()
        login(client, "alice")  # the same account in 20 tabs
        clients.append(client)
    order = open_order(clients[0])
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    event = toss.webhook_event(payment_key)
    hook_clients = [new_client() for _ in range(hooks)]
    barrier = threading.Barrier(confirmers + hooks)
    results: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def run(kind: str, client) -> None:
        barrier.wait(timeout=30)
        if kind == "confirm":
            response = confirm(client, order, payment_key)
        else:
            response = client.post("/api/webhooks/toss/payment", json=event, csrf=False)
        with lock:
            results.append((kind, response.status_code, response.get_json()))

    threads = [threading.Thread(target=run, args=("confirm", c)) for c in clients]
    threads += [threading.Thread(target=run, args=("webhook", c)) for c in hook_clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == confirmers + hooks
    confirms = [r for r in results if r[0] == "confirm"]
    assert all(status == 200 for _, status, _ in confirms), [body for _, s, body in confirms if s != 200]
    assert {body["data"]["status"] for _, _, body in confirms} == {"paid"}
    assert {body["data"]["token_balance"] for _, _, body in confirms} == {600}
    webhook_actions = [body["data"]["action"] for kind, status, body in results if kind == "webhook"]
    assert len(webhook_actions) == hooks
    assert set(webhook_actions) <= {"in_progress", "credited", "already_paid"}
    assert balance(clients[0]) == 600
    assert credits_for(toss_app, order["order_id"]) == 1
    with toss_app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Transaction).where(Transaction.transaction_type == "purchase")
            )
            == 1
        )
    assert toss.payment(payment_key)["status"] == "DONE"
    assert_ledger_clean(toss_app)
