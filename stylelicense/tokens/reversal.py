"""A payment canceled at Toss after its tokens were credited: the ledger takes the tokens back.

Toss is the authority (a refund made in its dashboard, a chargeback): when a lookup of a credited
order says ``CANCELED`` or ``PARTIAL_CANCELED``, the canceled share of the payment is debited from the
buyer as a ``purchase_reversal`` row. Idempotent: the purchase remembers how much of the payment it
has reversed (``canceled_amount``, under the purchase's row lock) and each step's ledger key is
``reversal:<orderId>:<canceled amount>``, so the webhook, the sweep and an operator may all deliver
the same cancellation without a second debit.

Tokens already spent cannot be taken back: a balance never goes below zero (the ledger's rule). We
take what is left and record the rest as ``reversal_shortfall`` on the purchase, logged as an error
for an operator — as a shop would treat a chargeback on goods already consumed (a debt to collect or
write off by hand, never a negative balance that blocks the account in the middle of a generation).
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from . import ledger
from .models import Purchase


def canceled_amount(payment: dict[str, Any], purchase: Purchase) -> int:
    """How much of the payment Toss has canceled, from its ``cancels`` list (else from the balance)."""
    cancels = [c for c in payment.get("cancels") or [] if isinstance(c, dict)]
    done = [c.get("cancelAmount") for c in cancels if c.get("cancelStatus", "DONE") == "DONE"]
    if done and all(isinstance(amount, int) for amount in done):
        total = sum(done)
    elif isinstance(payment.get("balanceAmount"), int):
        total = purchase.amount - payment["balanceAmount"]
    else:
        total = purchase.amount if payment.get("status") == "CANCELED" else 0
    return max(0, min(total, purchase.amount))


def reverse_canceled(purchase: Purchase, payment: dict[str, Any]) -> str:
    """Apply a cancellation of a credited (locked) purchase; returns ``reversed`` or ``already_reversed``."""
    canceled = canceled_amount(payment, purchase)
    if payment.get("status") == "CANCELED":
        canceled = purchase.amount
    if canceled <= purchase.canceled_amount:
        return "already_reversed"
    owed = ledger.tokens_for(purchase, canceled) - ledger.tokens_for(purchase, purchase.canceled_amount)
    row = None
    if purchase.user_id is not None:  # a deleted account has nothing left to take
        row = ledger.reverse_purchase(
            purchase,
            owed,
            key=f"reversal:{purchase.order_id}:{canceled}",
            memo=f"Payment canceled: {owed:,} purchased tokens taken back",
        )
    taken = row.amount if row is not None else 0
    shortfall = owed - taken
    if row is not None and shortfall:
        row.memo = f"Payment canceled: {taken:,} of {owed:,} purchased tokens taken back ({shortfall:,} already spent)"
    purchase.canceled_amount = canceled
    purchase.reversed_tokens += taken
    purchase.reversal_shortfall += shortfall
    purchase.provider_response = payment
    if canceled >= purchase.amount:
        purchase.status = "canceled"
        purchase.failure_code = "CANCELED_AFTER_PAYMENT"
        purchase.failure_message = "The payment was canceled at Toss after the tokens were credited."
    log = current_app.logger.error if shortfall else current_app.logger.warning
    log(
        "paid purchase canceled at Toss: tokens taken back"
        + ("; the buyer had spent some, the shortfall needs an operator" if shortfall else ""),
        extra={
            "order_id": purchase.order_id,
            "user_id": purchase.user_id,
            "canceled_amount": canceled,
            "tokens_taken_back": taken,
            "shortfall": shortfall,
        },
    )
    return "reversed"
