"""Request and response shapes of the tokens API (SPEC §6.1) and of the Toss payment webhook."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ..api import PageQuery, Schema

ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{6,64}$"


class BalanceOut(Schema):
    token_balance: int
    earned_token_balance: int | None = Field(None, description="Artists only: tokens earned from their style")


class PackageOut(Schema):
    id: str
    tokens: int
    price: int
    currency: str


class PackagesOut(RootModel[list[PackageOut]]):
    pass


class PurchaseBody(Schema):
    package_id: str = Field(min_length=1, max_length=40)


class CheckoutOut(Schema):
    """What the Toss checkout (JS SDK v2) needs; ``client_key`` is null for the local sandbox checkout."""

    order_id: str
    amount: int
    currency: str
    order_name: str
    client_key: str | None
    customer_key: str
    success_url: str
    fail_url: str


class ConfirmBody(Schema):
    """The query parameters Toss appended to ``success_url``, passed on as they are."""

    payment_key: str = Field(min_length=1, max_length=200)
    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    amount: int = Field(gt=0)


class FailBody(Schema):
    """The query parameters Toss appended to ``fail_url`` (``code``, ``message``, ``orderId``)."""

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    code: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=255)


class PurchaseOut(Schema):
    order_id: str
    package_id: str
    tokens: int
    amount: int
    currency: str
    status: Literal["pending", "confirming", "paid", "failed", "canceled"]
    failure_code: str | None
    failure_message: str | None
    sandbox: bool
    paid_at: str | None
    created_at: str | None
    token_balance: int


class TransactionsQuery(PageQuery):
    """``purchase``: purchases, welcome bonus, operator grants · ``usage``: image charges and their
    refunds · ``all``: everything on the account, including an artist's earnings."""

    type: Literal["purchase", "usage", "all"] = "all"


class TransactionOut(Schema):
    id: int
    transaction_type: str
    amount: int
    direction: Literal["in", "out"]
    status: str
    memo: str
    balance_after: int
    account: Literal["tokens", "earned"] = Field(
        description="Which balance `balance_after` is: spendable tokens, or an artist's earned tokens"
    )
    related_generation_id: int | None
    created_at: str | None


class _Lenient(BaseModel):
    # Toss sends the whole Payment object and may add fields at any time: keep what we need, ignore the rest.
    model_config = ConfigDict(extra="ignore")


class TossWebhookPayment(_Lenient):
    paymentKey: str | None = Field(None, max_length=200)
    orderId: str | None = Field(None, max_length=64)
    status: str | None = None


class TossWebhookBody(_Lenient):
    eventType: str | None = None
    createdAt: str | None = None
    data: TossWebhookPayment | None = None


class WebhookAckOut(Schema):
    received: bool
    action: str
