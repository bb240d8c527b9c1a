"""Toss Payments webhook: ``POST /api/webhooks/toss/payment``.

Unsigned (Toss does not sign payment webhooks), so the body is only a hint: the payment is fetched
from Toss and that answer is acted on. Always answers 200 quickly (Toss retries otherwise), is
idempotent and safe with events out of order. No login and no CSRF (the webhooks blueprint is exempt).
"""

from __future__ import annotations

from ..api import endpoint, ok
from ..tokens import payments
from ..tokens.schemas import TossWebhookBody, WebhookAckOut
from .blueprint import bp


@bp.post("/toss/payment")
@endpoint(body=TossWebhookBody, response=WebhookAckOut, summary="Toss payment status webhook (re-fetched from Toss)")
def toss_payment(body: TossWebhookBody):
    data = body.data
    action = payments.handle_toss_event(
        body.eventType, data.paymentKey if data else None, data.orderId if data else None
    )
    return ok({"received": True, "action": action})
