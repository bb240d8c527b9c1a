"""The token ledger on PostgreSQL: concurrent spends, charge → refund / charge → credit, verification,
and the operator commands (``tokens grant``, ``ledger verify``, ``purchases show``)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select, update

from stylelicense.errors import InsufficientTokens
from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.styles.models import Style
from stylelicense.tokens import ledger, ledger_audit
from stylelicense.tokens.models import Purchase, Transaction
from stylelicense.users.models import Artist, User
from tests import factories

PRICE = 7


# --- rows (tests/factories.py: flush, never commit; the tests commit where other connections must see them) --


def make_user(username: str, *, tokens: int = 0, welcome: bool = False) -> User:
    user = factories.create_user(username)
    if welcome:
        ledger.credit_welcome_bonus(user)
    if tokens:
        ledger.grant_tokens(user, tokens, memo="test tokens", key=f"test-{username}")
    return user


def make_style(artist_username: str = "painter", price: int = PRICE) -> Style:
    return factories.create_style(
        factories.create_artist(artist_username), title="Ink Washes", generation_cost_tokens=price
    )


def make_generation(user: User, style: Style) -> Generation:
    return factories.create_generation(user, style, status="queued", is_public=False, prompt_tags=["cat"])


def balance(user_id: int) -> int:
    return db.session.scalar(
        select(User.token_balance).where(User.id == user_id).execution_options(populate_existing=True)
    )


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.rollback()


# --- concurrency ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_app(database_url, tmp_path_factory):
    """The app with a connection pool wide enough that most of the 50 spenders really run at once."""
    from conftest import base_env

    from stylelicense.app import create_app

    # 30 connections: most of the 50 spenders hold one at the same moment, and PostgreSQL (shared by
    # parallel test runs) keeps room for everyone else.
    return create_app(
        env=base_env(tmp_path_factory.mktemp("wide"), database_url),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 10, "pool_timeout": 60},
    )


@pytest.mark.parametrize("affordable", [13])
def test_fifty_concurrent_spends_against_a_balance_for_exactly_n(wide_app, affordable):
    threads_count = 50
    with wide_app.app_context():
        buyer = make_user("spender", tokens=affordable * PRICE)
        style = make_style()
        generation_ids = [make_generation(buyer, style).id for _ in range(threads_count)]
        buyer_id = buyer.id
        db.session.commit()

    barrier = threading.Barrier(threads_count)
    outcomes: list[object] = []
    lock = threading.Lock()

    def spend(generation_id: int) -> None:
        with wide_app.app_context():
            try:
                barrier.wait(timeout=60)
                generation = db.session.get(Generation, generation_id)
                ledger.charge_for_generation(generation, "Ink Washes")
                db.session.commit()
                result: object = "ok"
            except InsufficientTokens as error:
                db.session.rollback()
                result = error
            except Exception as error:  # anything else is a failure of the test
                db.session.rollback()
                result = error
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=spend, args=(gid,)) for gid in generation_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(outcomes) == threads_count
    successes = [o for o in outcomes if o == "ok"]
    refusals = [o for o in outcomes if isinstance(o, InsufficientTokens)]
    assert len(successes) == affordable, [o for o in outcomes if o != "ok" and not isinstance(o, InsufficientTokens)]
    assert len(refusals) == threads_count - affordable
    assert all(r.status == 402 and r.code == "INSUFFICIENT_TOKENS" for r in refusals)
    with wide_app.app_context():
        assert balance(buyer_id) == 0
        charges = db.session.scalars(
            select(Transaction).where(Transaction.transaction_type == "generation_charge").order_by(Transaction.id)
        ).all()
        assert len(charges) == affordable
        # balance_after walks down one price at a time, in id order: every charge saw the previous one
        assert [row.balance_after for row in charges] == [PRICE * (affordable - i - 1) for i in range(affordable)]
        assert ledger_audit.verify_ledger() == []


# --- charge, refund, credit -----------------------------------------------------------------------


def test_charge_then_refund_restores_the_balance_once(ctx):
    buyer = make_user("buyer", welcome=True)
    generation = make_generation(buyer, make_style())
    charge = ledger.charge_for_generation(generation, "Ink Washes")
    assert (charge.amount, balance(buyer.id)) == (PRICE, 100 - PRICE)
    assert ledger.charge_for_generation(generation, "Ink Washes").id == charge.id  # retries are free
    assert balance(buyer.id) == 100 - PRICE
    refund = ledger.refund_generation(generation, "GPU out of memory")
    assert (refund.amount, refund.balance_after, refund.memo) == (PRICE, 100, "Refund: GPU out of memory")
    assert ledger.refund_generation(generation, "again").id == refund.id
    assert balance(buyer.id) == 100
    # a refunded generation never pays the artist
    assert ledger.credit_artist_for_generation(generation, generation.style.artist) is None
    assert generation.style.artist.earned_token_balance == 0
    assert ledger_audit.verify_ledger() == []


def test_charge_then_artist_credit_pays_the_artist_in_full_once(ctx):
    buyer = make_user("buyer", welcome=True)
    style = make_style(price=40)
    generation = make_generation(buyer, style)
    ledger.charge_for_generation(generation, style.title)
    credit = ledger.credit_artist_for_generation(generation, style.artist)
    assert (credit.amount, credit.balance_after, credit.user_id) == (40, 40, style.artist.user_id)
    assert ledger.credit_artist_for_generation(generation, style.artist).id == credit.id
    assert style.artist.earned_token_balance == 40
    assert balance(buyer.id) == 60
    # a delivered image is never refunded afterwards
    assert ledger.refund_generation(generation, "late failure") is None
    assert balance(buyer.id) == 60
    assert ledger_audit.verify_ledger() == []


def test_an_artist_using_their_own_style_pays_and_earns(ctx):
    style = make_style("selfie_artist", price=25)
    owner = db.session.get(User, style.artist.user_id)
    ledger.grant_tokens(owner, 30, memo="test", key="self")
    generation = make_generation(owner, style)
    ledger.charge_for_generation(generation, style.title)
    ledger.credit_artist_for_generation(generation, style.artist)
    assert (balance(owner.id), style.artist.earned_token_balance) == (5, 25)
    assert ledger_audit.verify_ledger() == []


def test_refund_or_credit_without_a_charge_moves_nothing(ctx):
    buyer = make_user("buyer", welcome=True)
    style = make_style()
    generation = make_generation(buyer, style)
    assert ledger.refund_generation(generation) is None
    assert ledger.credit_artist_for_generation(generation, style.artist) is None
    assert balance(buyer.id) == 100 and style.artist.earned_token_balance == 0


def test_insufficient_tokens_leaves_no_row(ctx):
    buyer = make_user("poor", tokens=PRICE - 1)
    generation = make_generation(buyer, make_style())
    with pytest.raises(InsufficientTokens) as caught:
        ledger.charge_for_generation(generation, "Ink Washes")
    assert caught.value.status == 402 and caught.value.details == {"required": PRICE}
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.transaction_type == "generation_charge")
        )
        == 0
    )
    assert balance(buyer.id) == PRICE - 1


def test_the_database_refuses_a_negative_balance(ctx):
    from sqlalchemy.exc import IntegrityError

    buyer = make_user("buyer", tokens=5)
    with pytest.raises(IntegrityError):
        db.session.execute(update(User).where(User.id == buyer.id).values(token_balance=-1))


def test_concurrent_refund_and_credit_settle_one_way(wide_app):
    """A late "completed" racing a "failed" for the same generation: the artist is paid or the buyer is
    refunded, never both."""
    rounds = 6
    with wide_app.app_context():
        buyer = make_user("racer", tokens=rounds * PRICE)
        style = make_style()
        ids = []
        for _ in range(rounds):
            generation = make_generation(buyer, style)
            ledger.charge_for_generation(generation, style.title)
            ids.append(generation.id)
        artist_id = style.artist.id
        db.session.commit()

    errors: list[Exception] = []

    def settle(generation_id: int, how: str, barrier: threading.Barrier) -> None:
        with wide_app.app_context():
            try:
                generation = db.session.get(Generation, generation_id)
                artist = db.session.get(Artist, artist_id)
                barrier.wait(timeout=30)
                if how == "refund":
                    ledger.refund_generation(generation, "failed")
                else:
                    ledger.credit_artist_for_generation(generation, artist)
                db.session.commit()
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    for generation_id in ids:
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=settle, args=(generation_id, how, barrier))
            for how in ("refund", "credit", "refund", "credit")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    with wide_app.app_context():
        settled = db.session.execute(
            select(Transaction.related_generation_id, func.count())
            .where(Transaction.transaction_type.in_(("refund", "artist_credit")))
            .group_by(Transaction.related_generation_id)
        ).all()
        assert sorted(settled) == [(gid, 1) for gid in ids]
        assert ledger_audit.verify_ledger() == []


# --- verification ---------------------------------------------------------------------------------


def test_verify_reports_a_tampered_balance(ctx):
    buyer = make_user("victim", welcome=True)
    assert ledger_audit.verify_ledger() == []
    db.session.execute(update(User).where(User.id == buyer.id).values(token_balance=1100))
    drifts = ledger_audit.verify_ledger()
    assert [(d.kind, d.expected, d.actual) for d in drifts] == [("balance", 100, 1100)]
    assert "victim" in drifts[0].subject and "welcome:" in drifts[0].row


def test_verify_reports_a_tampered_row(ctx):
    buyer = make_user("buyer", welcome=True)
    generation = make_generation(buyer, make_style())
    charge = ledger.charge_for_generation(generation, "Ink Washes")
    db.session.execute(update(Transaction).where(Transaction.id == charge.id).values(amount=1))
    kinds = {(d.kind, d.subject.split(" ")[1]) for d in ledger_audit.verify_ledger()}
    assert ("balance", "1") in kinds  # the buyer's balance no longer equals the sum
    assert ("row", f"#{charge.id}") in kinds  # and the row says where the chain broke


def test_verify_reports_paid_purchases_credited_wrongly(ctx):
    buyer = make_user("buyer")
    paid = Purchase(
        user_id=buyer.id,
        order_id="order_paid_1",
        package_id="basic_100",
        tokens=100,
        amount=10000,
        customer_key=str(uuid.uuid4()),
        status="paid",
    )
    pending = Purchase(
        user_id=buyer.id,
        order_id="order_pending_1",
        package_id="basic_100",
        tokens=100,
        amount=10000,
        customer_key=str(uuid.uuid4()),
        status="pending",
    )
    db.session.add_all([paid, pending])
    db.session.flush()
    assert [(d.kind, d.expected) for d in ledger_audit.verify_ledger()] == [("purchase", "credited")]
    ledger.credit_purchase(paid)
    assert ledger_audit.verify_ledger() == []
    ledger.credit_purchase(pending)  # as a bug elsewhere might
    assert [(d.kind, d.actual) for d in ledger_audit.verify_ledger()] == [("purchase", "credited while pending")]


def test_earned_balance_tampering_is_reported(ctx):
    buyer = make_user("buyer", welcome=True)
    style = make_style()
    generation = make_generation(buyer, style)
    ledger.charge_for_generation(generation, style.title)
    ledger.credit_artist_for_generation(generation, style.artist)
    db.session.execute(update(Artist).where(Artist.id == style.artist.id).values(earned_token_balance=999))
    assert [(d.kind, d.expected, d.actual) for d in ledger_audit.verify_ledger()] == [("earned", PRICE, 999)]


# --- operator commands ----------------------------------------------------------------------------


def test_ledger_verify_command_exits_1_and_prints_the_row(app):
    runner = app.test_cli_runner()
    with app.app_context():
        make_user("clean_user", welcome=True)
        tampered = make_user("tampered", tokens=50)
        tampered_id = tampered.id
        db.session.commit()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ledger OK: 2 accounts, 2 transactions" in ok.output
    with app.app_context():
        db.session.execute(update(User).where(User.id == tampered_id).values(token_balance=5000))
        db.session.commit()
    bad = runner.invoke(args=["ledger", "verify"])
    assert bad.exit_code == 1
    assert f"balance: user {tampered_id} (tampered) token_balance expected 50, found 5000" in bad.output
    assert "grant:test-tampered" in bad.output  # the offending account's last row
    assert "LEDGER DRIFT: 1 problem(s)" in bad.output


def test_tokens_grant_command_is_a_ledger_row_and_idempotent_by_key(app):
    runner = app.test_cli_runner()
    with app.app_context():
        user = make_user("lucky", welcome=True)
        user_id = user.id
        db.session.commit()
    result = runner.invoke(args=["tokens", "grant", "lucky", "250", "--memo", "Contest prize", "--key", "contest-1"])
    assert result.exit_code == 0, result.output
    assert "balance of lucky: 350" in result.output
    again = runner.invoke(
        args=["tokens", "grant", "lucky@example.com", "250", "--memo", "Contest prize", "--key", "contest-1"]
    )
    assert again.exit_code == 0 and "already granted" in again.output
    other = runner.invoke(args=["tokens", "grant", str(user_id), "10", "--memo", "x", "--key", "contest-1"])
    assert other.exit_code != 0 and "key already used" in other.output
    assert runner.invoke(args=["tokens", "grant", "nobody", "10", "--memo", "x"]).exit_code != 0
    assert runner.invoke(args=["tokens", "grant", "lucky", "0", "--memo", "x"]).exit_code != 0
    with app.app_context():
        assert balance(user_id) == 350
        row = db.session.scalar(select(Transaction).where(Transaction.idempotency_key == "grant:contest-1"))
        assert (row.transaction_type, row.amount, row.memo, row.sender_id) == ("grant", 250, "Contest prize", None)
        assert ledger_audit.verify_ledger() == []


def test_purchases_show_command(app):
    runner = app.test_cli_runner()
    with app.app_context():
        user = make_user("shopper")
        purchase = Purchase(
            user_id=user.id,
            order_id="sl_show_me_123",
            package_id="standard_500",
            tokens=500,
            amount=45000,
            customer_key=str(uuid.uuid4()),
            status="paid",
            payment_key="tgen_abc",
            provider_response={"status": "DONE", "totalAmount": 45000},
        )
        db.session.add(purchase)
        db.session.flush()
        ledger.credit_purchase(purchase)
        db.session.commit()
    result = runner.invoke(args=["purchases", "show", "sl_show_me_123"])
    assert result.exit_code == 0, result.output
    for expected in (
        "shopper",
        "standard_500 (500 tokens)",
        "45,000 KRW",
        "status:       paid",
        "tgen_abc",
        "purchase:sl_show_me_123",
        '"totalAmount": 45000',
    ):
        assert expected in result.output
    missing = runner.invoke(args=["purchases", "show", "nope_nope"])
    assert missing.exit_code != 0 and "no purchase" in missing.output
