"""Purchases settled after the fact, against the fake Toss.

The schedule that ships in deploy/ (deploy/sweeper.sh runs ``purchases sweep-confirming``): a purchase
stuck in "confirming" whose payment Toss reports DONE is credited exactly once however many sweeps
run; one Toss never saw is closed; Toss down leaves it for the next round.

A payment canceled at Toss after crediting: the tokens are taken back once (webhook, sweep and
operator may all deliver it), at most what is left when the buyer spent some (the shortfall is
recorded on the purchase), and ``ledger verify`` stays clean."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from stylelicense.extensions import db
from stylelicense.models import utcnow
from stylelicense.tokens import ledger_audit
from stylelicense.tokens.models import Purchase, Transaction
from stylelicense.tokens.toss import TossClient
from tests.factories import create_artist, create_style
from tests.fakes.toss_server import FakeToss

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def toss():
    with FakeToss() as fake:
        yield fake


@pytest.fixture(scope="module")
def sweep_env(database_url, tmp_path_factory, toss):
    from conftest import base_env

    tmp = tmp_path_factory.mktemp("sweep")
    return base_env(
        tmp,
        database_url,
        TOSS_SECRET_KEY=toss.secret_key,
        TOSS_CLIENT_KEY=toss.client_key,
        TOSS_API_BASE=toss.base_url,
        TOSS_RETRIES="0",
        STYLELICENSE_INSTANCE=str(tmp / "instance"),
    )


@pytest.fixture(scope="module")
def toss_app(sweep_env):
    from conftest import ApiClient

    from stylelicense.app import create_app

    application = create_app(env=sweep_env, TOSS_TIMEOUT=3.0, TOSS_RETRIES=0)
    application.test_client_class = ApiClient
    return application


@pytest.fixture(autouse=True)
def _fresh_toss(toss):
    toss.reset()


@pytest.fixture
def alice(toss_app, login):
    client = toss_app.test_client()
    client.me = login(client, "alice")
    return client


def stuck_order(app, client, toss, *, toss_status: str | None = "DONE", age_minutes: int = 60) -> dict:
    """An order whose confirm call's answer was lost: "confirming" for ``age_minutes``, while Toss says
    ``toss_status`` (None: Toss never saw a checkout for it)."""
    order = client.post("/api/tokens/purchase", json={"package_id": "standard_500"}).get_json()["data"]
    if toss_status is not None:
        payment_key = toss.create_checkout(order["order_id"], order["amount"])
        toss.set_status(payment_key, toss_status)
    with app.app_context():
        db.session.execute(
            update(Purchase)
            .where(Purchase.order_id == order["order_id"])
            .values(status="confirming", updated_at=utcnow() - timedelta(minutes=age_minutes))
        )
        db.session.commit()
    return order


def purchase_state(app, order_id: str) -> tuple[str, int]:
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        credits = db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.idempotency_key == f"purchase:{order_id}")
        )
        return purchase.status, credits


def balance(client) -> int:
    return client.get("/api/tokens/balance").get_json()["data"]["token_balance"]


def sweep(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["purchases", "sweep-confirming", *args])
    assert result.exit_code == 0, result.output
    return result.output


def run_sweeper_once(env: dict[str, str]) -> subprocess.CompletedProcess:
    """One round of the shipped schedule, as the `sweeper` container runs it."""
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.run(
        ["bash", "deploy/sweeper.sh", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env, "FLASK": flask, "PYTHONPATH": str(ROOT)},
    )


def test_the_shipped_sweeper_credits_a_stuck_purchase_exactly_once(toss_app, toss, alice, sweep_env):
    order = stuck_order(toss_app, alice, toss)
    assert balance(alice) == 100
    first = run_sweeper_once(sweep_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{order['order_id']}: credited" in first.stdout
    assert "stale generation(s) failed" in first.stdout and "requeued:" in first.stdout  # every sweep ran
    assert "paid purchase(s) checked" in first.stdout
    assert purchase_state(toss_app, order["order_id"]) == ("paid", 1) and balance(alice) == 600
    # the next round (and an operator's manual run) finds nothing left to do
    again = run_sweeper_once(sweep_env)
    assert again.returncode == 0 and "0 confirming purchase(s) checked" in again.stdout
    with toss_app.app_context():  # back to "confirming", as if a sweep died before its commit: no second credit
        db.session.execute(
            update(Purchase)
            .where(Purchase.order_id == order["order_id"])
            .values(status="confirming", updated_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    sweep(toss_app)
    assert purchase_state(toss_app, order["order_id"])[1] == 1 and balance(alice) == 600
    with toss_app.app_context():
        assert [str(d) for d in ledger_audit.verify_ledger()] == []


def test_sweep_twice_credits_once_and_leaves_recent_orders_alone(toss_app, toss, alice):
    stuck = stuck_order(toss_app, alice, toss)
    recent = stuck_order(toss_app, alice, toss, age_minutes=1)  # a confirm call may still be under way
    out = sweep(toss_app)
    assert f"{stuck['order_id']}: credited" in out and recent["order_id"] not in out
    assert "0 confirming purchase(s) checked" in sweep(toss_app)
    assert purchase_state(toss_app, stuck["order_id"]) == ("paid", 1)
    assert purchase_state(toss_app, recent["order_id"]) == ("confirming", 0)
    assert balance(alice) == 600 and toss.calls["get_payment_by_order"] == 1


def test_sweep_closes_what_toss_never_took_and_waits_while_toss_is_down(toss_app, toss, alice):
    toss_down = stuck_order(toss_app, alice, toss)  # swept first (oldest first)
    never_seen = stuck_order(toss_app, alice, toss, toss_status=None)
    not_confirmed = stuck_order(toss_app, alice, toss, toss_status="IN_PROGRESS")
    toss.fail_next("PROVIDER_ERROR", times=1, endpoint="get_payment_by_order")  # the first lookup only
    out = sweep(toss_app)
    assert f"{toss_down['order_id']}: unreachable" in out
    assert f"{never_seen['order_id']}: not_found" in out and f"{not_confirmed['order_id']}: in_progress" in out
    assert purchase_state(toss_app, toss_down["order_id"]) == ("confirming", 0)  # next round tries again
    assert purchase_state(toss_app, never_seen["order_id"]) == ("failed", 0)
    assert purchase_state(toss_app, not_confirmed["order_id"]) == ("pending", 0)  # the customer may retry
    with toss_app.app_context():
        db.session.execute(
            update(Purchase)
            .where(Purchase.order_id == toss_down["order_id"])
            .values(updated_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    assert f"{toss_down['order_id']}: credited" in sweep(toss_app)
    assert balance(alice) == 600


# --- a payment canceled at Toss after crediting -------------------------------------------------------


def paid_order(client, toss) -> tuple[dict, str]:
    order = client.post("/api/tokens/purchase", json={"package_id": "standard_500"}).get_json()["data"]
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    response = client.post(
        "/api/tokens/purchase/confirm",
        json={"payment_key": payment_key, "order_id": order["order_id"], "amount": order["amount"]},
    )
    assert response.get_json()["data"]["status"] == "paid", response.get_json()
    return order, payment_key


def cancel_at_toss(toss, payment_key: str, amount: int | None = None) -> None:
    """What the merchant's dashboard (or a chargeback) does: Toss's cancel endpoint."""
    TossClient(toss.base_url, toss.secret_key, retries=0).cancel(
        payment_key, "customer asked", idempotency_key=f"dashboard:{payment_key}:{amount}", amount=amount
    )


def webhook(client, toss, payment_key: str) -> str:
    response = client.post("/api/webhooks/toss/payment", json=toss.webhook_event(payment_key), csrf=False)
    assert response.status_code == 200
    return response.get_json()["data"]["action"]


def reversal_rows(app, order_id: str) -> list[tuple[int, int, str]]:
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        return [
            (row.amount, row.balance_after, row.memo)
            for row in db.session.scalars(
                select(Transaction).where(
                    Transaction.related_purchase_id == purchase.id, Transaction.transaction_type == "purchase_reversal"
                )
            )
        ]


def ledger_verify(app) -> str:
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_canceled_payment_takes_the_tokens_back_once(toss_app, toss, alice):
    order, payment_key = paid_order(alice, toss)
    assert balance(alice) == 600
    cancel_at_toss(toss, payment_key)
    assert webhook(alice, toss, payment_key) == "reversed"
    assert webhook(alice, toss, payment_key) == "already_reversed"  # Toss repeats its webhooks
    result = toss_app.test_cli_runner().invoke(args=["purchases", "reconcile", order["order_id"]])
    assert result.output.strip() == f"{order['order_id']}: already_reversed"
    assert balance(alice) == 100
    assert purchase_state(toss_app, order["order_id"]) == ("canceled", 1)
    assert [amount for amount, _, _ in reversal_rows(toss_app, order["order_id"])] == [500]
    newest = alice.get("/api/tokens/transactions?type=purchase").get_json()["data"]["results"][0]
    assert (newest["transaction_type"], newest["amount"], newest["direction"], newest["balance_after"]) == (
        "purchase_reversal",
        500,
        "out",
        100,
    )
    assert "ledger OK" in ledger_verify(toss_app)


def test_spent_tokens_are_taken_back_as_far_as_they_go_and_the_shortfall_is_recorded(toss_app, toss, alice):
    order, payment_key = paid_order(alice, toss)
    with toss_app.app_context():
        style = create_style(create_artist("painter"), generation_cost_tokens=550, lora_key="styles/1/lora.safetensors")
        db.session.commit()
        style_id = style.id
    spent = alice.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["cat"]})
    assert spent.status_code == 201, spent.get_json()
    assert balance(alice) == 50
    cancel_at_toss(toss, payment_key)
    assert webhook(alice, toss, payment_key) == "reversed"
    assert webhook(alice, toss, payment_key) == "already_reversed"
    assert balance(alice) == 0  # never below zero
    [(amount, after, memo)] = reversal_rows(toss_app, order["order_id"])
    assert (amount, after) == (50, 0) and "450 already spent" in memo
    with toss_app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order["order_id"]))
        assert (purchase.status, purchase.reversed_tokens, purchase.reversal_shortfall) == ("canceled", 50, 450)
    shown = toss_app.test_cli_runner().invoke(args=["purchases", "show", order["order_id"]]).output
    assert "shortfall 450" in shown
    assert "ledger OK" in ledger_verify(toss_app)


def test_a_partial_cancel_takes_back_its_share_and_the_rest_later(toss_app, toss, alice):
    order, payment_key = paid_order(alice, toss)  # 500 tokens for 45,000 KRW
    cancel_at_toss(toss, payment_key, amount=9000)  # a fifth of the payment
    assert webhook(alice, toss, payment_key) == "reversed"
    assert balance(alice) == 500 and purchase_state(toss_app, order["order_id"])[0] == "paid"
    cancel_at_toss(toss, payment_key)  # the rest
    assert sweep_and_reconcile(toss_app, order["order_id"]) == "reversed"
    assert webhook(alice, toss, payment_key) == "already_reversed"
    assert balance(alice) == 100 and purchase_state(toss_app, order["order_id"])[0] == "canceled"
    assert [amount for amount, _, _ in reversal_rows(toss_app, order["order_id"])] == [100, 400]
    assert "ledger OK" in ledger_verify(toss_app)


def sweep_and_reconcile(app, order_id: str) -> str:
    result = app.test_cli_runner().invoke(args=["purchases", "reconcile", order_id])
    assert result.exit_code == 0, result.output
    return result.output.strip().rsplit(": ", 1)[1]


def test_a_cancellation_whose_webhook_was_lost_is_taken_back_by_the_hourly_sweep(toss_app, toss, alice):
    order, payment_key = paid_order(alice, toss)
    cancel_at_toss(toss, payment_key)  # ...and Toss's webhook never reaches us
    result = toss_app.test_cli_runner().invoke(args=["purchases", "sweep-paid"])
    assert f"{order['order_id']}: reversed" in result.output and "1 cancellation(s) applied" in result.output
    assert webhook(alice, toss, payment_key) == "already_reversed"  # the late webhook changes nothing
    again = toss_app.test_cli_runner().invoke(args=["purchases", "sweep-paid"])
    assert "0 paid purchase(s) checked" in again.output  # canceled now: no longer re-checked
    assert balance(alice) == 100 and [a for a, _, _ in reversal_rows(toss_app, order["order_id"])] == [500]
    assert "ledger OK" in ledger_verify(toss_app)
