"""Purchases nobody settled are settled by the schedule that ships in deploy/ (deploy/sweeper.sh runs
``purchases sweep-confirming``): a purchase stuck in "confirming" whose payment Toss reports DONE is
credited exactly once however many sweeps run; one Toss never saw is closed; Toss down leaves it."""

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
from stylelicense.tokens import ledger
from stylelicense.tokens.models import Purchase, Transaction
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
    return base_env(tmp, database_url, TOSS_SECRET_KEY=toss.secret_key, TOSS_CLIENT_KEY=toss.client_key,
                    TOSS_API_BASE=toss.base_url, TOSS_RETRIES="0", STYLELICENSE_INSTANCE=str(tmp / "instance"))


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
        db.session.execute(update(Purchase).where(Purchase.order_id == order["order_id"]).values(
            status="confirming", updated_at=utcnow() - timedelta(minutes=age_minutes)))
        db.session.commit()
    return order


def purchase_state(app, order_id: str) -> tuple[str, int]:
    with app.app_context():
        purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        credits = db.session.scalar(select(func.count()).select_from(Transaction).where(
            Transaction.idempotency_key == f"purchase:{order_id}"))
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
    return subprocess.run(["bash", "deploy/sweeper.sh", "--once"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **env, "FLASK": flask, "PYTHONPATH": str(ROOT)})


def test_the_shipped_sweeper_credits_a_stuck_purchase_exactly_once(toss_app, toss, alice, sweep_env):
    order = stuck_order(toss_app, alice, toss)
    assert balance(alice) == 100
    first = run_sweeper_once(sweep_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{order['order_id']}: credited" in first.stdout
    assert "stale generation(s) failed" in first.stdout and "requeued:" in first.stdout  # all three sweeps ran
    assert purchase_state(toss_app, order["order_id"]) == ("paid", 1) and balance(alice) == 600
    # the next round (and an operator's manual run) finds nothing left to do
    again = run_sweeper_once(sweep_env)
    assert again.returncode == 0 and "0 confirming purchase(s) checked" in again.stdout
    with toss_app.app_context():  # back to "confirming", as if a sweep died before its commit: no second credit
        db.session.execute(update(Purchase).where(Purchase.order_id == order["order_id"]).values(
            status="confirming", updated_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    sweep(toss_app)
    assert purchase_state(toss_app, order["order_id"])[1] == 1 and balance(alice) == 600
    with toss_app.app_context():
        assert [str(d) for d in ledger.verify_ledger()] == []


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
        db.session.execute(update(Purchase).where(Purchase.order_id == toss_down["order_id"]).values(
            updated_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert f"{toss_down['order_id']}: credited" in sweep(toss_app)
    assert balance(alice) == 600
