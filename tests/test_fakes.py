"""Tests of the loopback fakes themselves (Toss, Google OIDC, S3) and of the Toss client against them.

The app's own login / purchase tests live elsewhere; these make sure the fakes behave like the
documented APIs, so that those tests mean something.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidClaimError
from joserfc.jwk import KeySet

from stylelicense.tokens.toss import AlreadyProcessed, TossClient, TossError, TossRetryableError, TossTimeout
from tests.fakes._http import LoopbackServer, Request, Response
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.fakes.toss_server import FakeToss

ORDER = "order_0001"


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def toss():
    with FakeToss() as fake:
        yield fake


@pytest.fixture
def client(toss):
    return TossClient(toss.base_url, toss.secret_key, timeout=2.0, retries=2, backoff=0.01)


@pytest.fixture
def oidc():
    with FakeOIDCProvider(redirect_uris=["http://127.0.0.1:9/callback"]) as provider:
        yield provider


class Recorder(LoopbackServer):
    """A loopback endpoint that records what it is sent (stands in for the app's webhook)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.received.append(request)
        return Response(200, {"ok": True})


def raw_confirm(toss: FakeToss, payment_key: str, order_id: str, amount: int, key: str | None = None):
    headers = {"Authorization": toss.auth_header}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
    return requests.post(f"{toss.base_url}/v1/payments/confirm", json=body, headers=headers, timeout=5)


# ------------------------------------------------------------------------------- Toss client + fake


def test_confirm_happy_path(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000, order_name="basic_100")
    assert toss.payment(payment_key)["status"] == "IN_PROGRESS"

    payment = client.confirm(payment_key, ORDER, 10_000)

    assert payment["status"] == "DONE"
    assert payment["paymentKey"] == payment_key
    assert payment["orderId"] == ORDER
    assert payment["orderName"] == "basic_100"
    assert (payment["totalAmount"], payment["balanceAmount"], payment["currency"]) == (10_000, 10_000, "KRW")
    assert payment["approvedAt"] and payment["method"] == "카드"
    assert toss.calls["confirm"] == 1
    assert toss.requests[-1]["idempotency_key"] == f"confirm:{ORDER}"
    assert client.get_payment(payment_key) == payment
    assert client.get_payment_by_order(ORDER) == payment


def test_confirm_twice_same_idempotency_key_replays(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    first = client.confirm(payment_key, ORDER, 10_000)
    second = client.confirm(payment_key, ORDER, 10_000)
    assert second == first  # same approval: same approvedAt and lastTransactionKey
    assert toss.calls["confirm"] == 2

    # Toss matches key + method + URL, not the body: a different body still gets the stored answer.
    replay = raw_confirm(toss, payment_key, ORDER, 1, key=f"confirm:{ORDER}")
    assert replay.status_code == 200
    assert replay.json() == first


def test_confirm_with_another_key_is_already_processed(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    client.confirm(payment_key, ORDER, 10_000)

    other = raw_confirm(toss, payment_key, ORDER, 10_000, key="some-other-key")
    assert other.status_code == 400
    assert other.json()["code"] == "ALREADY_PROCESSED_PAYMENT"

    # The client maps it to AlreadyProcessed (payment confirmed before, outside this key's memory).
    order2 = "order_0002"
    key2 = toss.create_checkout(order2, 500)
    assert raw_confirm(toss, key2, order2, 500).status_code == 200  # no Idempotency-Key
    with pytest.raises(AlreadyProcessed) as info:
        client.confirm(key2, order2, 500)
    assert (info.value.code, info.value.status) == ("ALREADY_PROCESSED_PAYMENT", 400)
    assert toss.calls["confirm"] == 4  # client, other key, raw, client: the last one not retried


def test_rejected_card_is_not_retried(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.fail_next("REJECT_CARD_COMPANY")
    with pytest.raises(TossError) as info:
        client.confirm(payment_key, ORDER, 10_000)
    assert not isinstance(info.value, (TossRetryableError, AlreadyProcessed))
    assert (info.value.code, info.value.status) == ("REJECT_CARD_COMPANY", 403)
    assert toss.calls["confirm"] == 1
    payment = toss.payment(payment_key)
    assert payment["status"] == "ABORTED"
    assert payment["failure"]["code"] == "REJECT_CARD_COMPANY"


def test_provider_error_once_is_retried(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.fail_next("PROVIDER_ERROR")
    payment = client.confirm(payment_key, ORDER, 10_000)
    assert payment["status"] == "DONE"
    assert toss.calls["confirm"] == 2


def test_provider_error_persisting_raises_after_retries(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.fail_next("PROVIDER_ERROR", times=5)
    with pytest.raises(TossRetryableError) as info:
        client.confirm(payment_key, ORDER, 10_000)
    assert not isinstance(info.value, TossTimeout)
    assert (info.value.code, info.value.status) == ("PROVIDER_ERROR", 400)
    assert toss.calls["confirm"] == 3  # 1 + retries
    assert toss.payment(payment_key)["status"] == "IN_PROGRESS"


def test_server_error_is_retryable(toss, client):
    toss.fail_next("FAILED_INTERNAL_SYSTEM_PROCESSING", times=3, endpoint="get_payment")
    with pytest.raises(TossRetryableError) as info:
        client.get_payment("tgen_whatever")
    assert info.value.status == 500
    assert toss.calls["get_payment"] == 3


def test_timeout_on_every_attempt_raises_toss_timeout(toss):
    client = TossClient(toss.base_url, toss.secret_key, timeout=0.3, retries=2, backoff=0.01)
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.delay_next(5.0, times=3)  # stop() cuts the delays short, so the fixture's teardown is quick
    started = time.monotonic()
    with pytest.raises(TossTimeout) as info:
        client.confirm(payment_key, ORDER, 10_000)
    assert time.monotonic() - started < 4.0  # gave up on its own timeout, not the fake's delay
    assert info.value.code == "TIMEOUT" and info.value.status is None
    assert toss.calls["confirm"] == 3
    # The outcome was unknown to the client, but Toss did approve: reconcile by order id.
    assert toss.payment_for_order(ORDER)["status"] == "DONE"


def test_timeout_then_retry_gets_the_stored_answer(toss):
    client = TossClient(toss.base_url, toss.secret_key, timeout=0.3, retries=2, backoff=0.01)
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.delay_next(5.0, times=1)
    payment = client.confirm(payment_key, ORDER, 10_000)
    assert payment["status"] == "DONE"
    assert toss.calls["confirm"] == 2
    assert payment["lastTransactionKey"] == toss.payment(payment_key)["lastTransactionKey"]


def test_wrong_secret_key_is_unauthorized(toss):
    client = TossClient(toss.base_url, "test_sk_wrong", timeout=2.0, retries=2, backoff=0.01)
    payment_key = toss.create_checkout(ORDER, 10_000)
    with pytest.raises(TossError) as info:
        client.confirm(payment_key, ORDER, 10_000)
    assert not isinstance(info.value, TossRetryableError)
    assert (info.value.code, info.value.status) == ("UNAUTHORIZED_KEY", 401)
    assert toss.calls["confirm"] == 1
    assert toss.payment(payment_key)["status"] == "IN_PROGRESS"


def test_wrong_amount_and_unknown_payment_are_refused(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    with pytest.raises(TossError) as info:
        client.confirm(payment_key, ORDER, 100)
    assert (info.value.code, info.value.status) == ("INVALID_REQUEST", 400)

    with pytest.raises(TossError) as info:
        client.confirm("tgen_unknown", "order_0009", 100)
    assert (info.value.code, info.value.status) == ("NOT_FOUND_PAYMENT_SESSION", 404)

    for lookup in (
        lambda: client.get_payment("tgen_unknown"),
        lambda: client.get_payment_by_order("nope_123"),
    ):
        with pytest.raises(TossError) as info:
            lookup()
        assert (info.value.code, info.value.status) == ("NOT_FOUND_PAYMENT", 404)


def test_amount_override_reports_a_mismatching_total(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    toss.set_amount_override(payment_key, 100)
    payment = client.confirm(payment_key, ORDER, 10_000)
    assert payment["status"] == "DONE"
    assert payment["totalAmount"] == 100
    assert client.get_payment(payment_key)["totalAmount"] == 100


def test_cancel_full_partial_and_idempotent(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    with pytest.raises(TossError) as info:  # not confirmed yet
        client.cancel(payment_key, "changed my mind", idempotency_key="cancel:a")
    assert info.value.code == "NOT_CANCELABLE_PAYMENT"
    client.confirm(payment_key, ORDER, 10_000)

    partial = client.cancel(payment_key, "partial", idempotency_key="cancel:b", amount=4_000)
    assert (partial["status"], partial["balanceAmount"]) == ("PARTIAL_CANCELED", 6_000)
    again = client.cancel(payment_key, "partial", idempotency_key="cancel:b", amount=4_000)
    assert again == partial  # replayed, not cancelled twice
    assert toss.payment(payment_key)["balanceAmount"] == 6_000

    full = client.cancel(payment_key, "rest", idempotency_key="cancel:c")
    assert (full["status"], full["balanceAmount"], len(full["cancels"])) == ("CANCELED", 0, 2)
    with pytest.raises(TossError) as info:
        client.cancel(payment_key, "rest", idempotency_key="cancel:d")
    assert info.value.code == "ALREADY_CANCELED_PAYMENT"


def test_connection_refused_is_retryable():
    with FakeToss() as gone:
        base_url = gone.base_url
    client = TossClient(base_url, "test_sk_x", timeout=1.0, retries=1, backoff=0.01)
    with pytest.raises(TossRetryableError) as info:
        client.get_payment("tgen_x")
    assert info.value.code == "NETWORK_ERROR"


def test_twenty_concurrent_confirms_approve_once(toss, client):
    payment_key = toss.create_checkout(ORDER, 45_000)
    barrier = threading.Barrier(20)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker():
        barrier.wait()
        try:
            results.append(client.confirm(payment_key, ORDER, 45_000))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(results) == 20
    assert len({r["lastTransactionKey"] for r in results}) == 1
    assert toss.calls["confirm"] == 20


def test_twenty_concurrent_confirms_without_shared_key(toss):
    payment_key = toss.create_checkout(ORDER, 45_000)
    barrier = threading.Barrier(20)
    statuses: list[tuple[int, str | None]] = []

    def worker(i: int):
        barrier.wait()
        response = raw_confirm(toss, payment_key, ORDER, 45_000, key=f"k{i}")
        statuses.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(statuses, key=str) == [(200, None)] + [(400, "ALREADY_PROCESSED_PAYMENT")] * 19


def test_post_webhook_sends_payment_status_changed(toss, client):
    payment_key = toss.create_checkout(ORDER, 10_000)
    client.confirm(payment_key, ORDER, 10_000)
    with Recorder() as receiver:
        response = toss.post_webhook(f"{receiver.base_url}/api/webhooks/toss/payment", payment_key)
    assert response.status_code == 200
    (received,) = receiver.received
    assert received.path == "/api/webhooks/toss/payment"
    event = received.json()
    assert event["eventType"] == "PAYMENT_STATUS_CHANGED"
    assert event["createdAt"]
    assert event["data"]["paymentKey"] == payment_key
    assert event["data"]["status"] == "DONE"


def test_create_checkout_validates_order_id(toss):
    with pytest.raises(ValueError):
        toss.create_checkout("bad id!", 100)
    payment_key = toss.create_checkout(ORDER, 100)
    toss.set_status(payment_key, "DONE")
    with pytest.raises(ValueError, match="DUPLICATED_ORDER_ID"):
        toss.create_checkout(ORDER, 100)


# ------------------------------------------------------------------------------------ fake Google


def _session(oidc: FakeOIDCProvider, **kwargs) -> OAuth2Session:
    return OAuth2Session(
        oidc.client_id,
        oidc.client_secret,
        scope="openid email profile",
        redirect_uri="http://127.0.0.1:9/callback",
        code_challenge_method="S256",
        **kwargs,
    )


def _authorize(oidc: FakeOIDCProvider, session: OAuth2Session, verifier: str, nonce: str = "n-0S6_WzA2Mj"):
    """Run /authorize like a browser would; return the callback URL and the state."""
    url, state = session.create_authorization_url(oidc.authorization_endpoint, code_verifier=verifier, nonce=nonce)
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    return response.headers["Location"], state


def _verify_id_token(oidc: FakeOIDCProvider, token: dict, nonce: str) -> CodeIDToken:
    """Verify as Authlib's Flask client does: JWKS from the discovery document, then the claims."""
    metadata = requests.get(oidc.metadata_url, timeout=5).json()
    key_set = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    decoded = jwt.decode(token["id_token"], key_set, algorithms=metadata["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [metadata["issuer"]]}},
        {"nonce": nonce, "client_id": oidc.client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=120)
    return claims


def test_discovery_document(oidc):
    metadata = requests.get(oidc.metadata_url, timeout=5).json()
    assert metadata["issuer"] == oidc.issuer
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert metadata[name].startswith(oidc.issuer + "/")
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert requests.get(metadata["jwks_uri"], timeout=5).json()["keys"][0]["kty"] == "RSA"


@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_code_flow_with_pkce_and_nonce(oidc, auth_method):
    oidc.next_user = {
        "sub": "1234567890",
        "email": "bob@example.com",
        "name": "Bob",
        "picture": "p.png",
        "email_verified": True,
    }
    verifier = "v" * 64
    with _session(oidc, token_endpoint_auth_method=auth_method) as session:
        callback, state = _authorize(oidc, session, verifier)
        query = parse_qs(urlsplit(callback).query)
        assert callback.startswith("http://127.0.0.1:9/callback?")
        assert query["state"] == [state]
        authorize_request = oidc.requests[-1]["query"]
        assert authorize_request["code_challenge"] == create_s256_code_challenge(verifier)
        assert authorize_request["code_challenge_method"] == "S256"

        token = session.fetch_token(oidc.token_endpoint, authorization_response=callback, code_verifier=verifier)
        assert token["token_type"] == "Bearer"
        claims = _verify_id_token(oidc, token, nonce="n-0S6_WzA2Mj")
        assert claims["nonce"] == "n-0S6_WzA2Mj"
        assert claims["aud"] == oidc.client_id
        assert (claims["sub"], claims["email"], claims["name"]) == ("1234567890", "bob@example.com", "Bob")

        userinfo = session.get(oidc.userinfo_endpoint, timeout=5).json()
        assert userinfo["sub"] == "1234567890" and userinfo["email"] == "bob@example.com"
    (token_request,) = [r for r in oidc.requests if r["path"] == "/token"]
    if auth_method == "client_secret_basic":
        assert token_request["headers"]["authorization"].startswith("Basic ")
    else:
        assert token_request["form"]["client_secret"] == oidc.client_secret


def test_wrong_code_verifier_is_refused_and_code_burnt(oidc):
    with _session(oidc) as session:
        callback, _ = _authorize(oidc, session, "a" * 64)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "client_id": oidc.client_id,
            "client_secret": oidc.client_secret,
        }
        wrong = requests.post(oidc.token_endpoint, data={**form, "code_verifier": "b" * 64}, timeout=5)
        assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
        right = requests.post(oidc.token_endpoint, data={**form, "code_verifier": "a" * 64}, timeout=5)
        assert (right.status_code, right.json()["error"]) == (400, "invalid_grant")

        callback, _ = _authorize(oidc, session, "a" * 64)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        missing = requests.post(oidc.token_endpoint, data={**form, "code": code}, timeout=5)
        assert (missing.status_code, missing.json()["error"]) == (400, "invalid_grant")


def test_code_is_single_use(oidc):
    verifier = "c" * 64
    with _session(oidc) as session:
        callback, _ = _authorize(oidc, session, verifier)
        session.fetch_token(oidc.token_endpoint, authorization_response=callback, code_verifier=verifier)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        again = requests.post(
            oidc.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "http://127.0.0.1:9/callback",
                "code_verifier": verifier,
                "client_id": oidc.client_id,
                "client_secret": oidc.client_secret,
            },
            timeout=5,
        )
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_wrong_client_secret_is_refused(oidc):
    verifier = "d" * 64
    with _session(oidc) as session:
        callback, _ = _authorize(oidc, session, verifier)
    form = {
        "grant_type": "authorization_code",
        "code": parse_qs(urlsplit(callback).query)["code"][0],
        "redirect_uri": "http://127.0.0.1:9/callback",
        "code_verifier": verifier,
    }
    as_post = requests.post(
        oidc.token_endpoint, data={**form, "client_id": oidc.client_id, "client_secret": "wrong"}, timeout=5
    )
    assert (as_post.status_code, as_post.json()["error"]) == (401, "invalid_client")
    as_basic = requests.post(oidc.token_endpoint, data=form, auth=(oidc.client_id, "wrong"), timeout=5)
    assert (as_basic.status_code, as_basic.json()["error"]) == (401, "invalid_client")
    as_nobody = requests.post(oidc.token_endpoint, data=form, timeout=5)
    assert as_nobody.status_code == 401


@pytest.mark.parametrize(
    ("drop", "error"),
    [("code_challenge", "invalid_request"), ("nonce", "invalid_request"), ("state", "invalid_request")],
)
def test_authorize_requires_pkce_nonce_and_state(oidc, drop, error):
    params = {
        "client_id": oidc.client_id,
        "redirect_uri": "http://127.0.0.1:9/callback",
        "response_type": "code",
        "scope": "openid email",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": create_s256_code_challenge("x" * 64),
        "code_challenge_method": "S256",
    }
    del params[drop]
    response = requests.get(oidc.authorization_endpoint, params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == [error]
    assert "code" not in query


def test_authorize_refuses_unknown_client_and_redirect_uri(oidc):
    base = {
        "response_type": "code",
        "scope": "openid",
        "state": "s",
        "nonce": "n",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }
    for params in (
        {**base, "client_id": "other", "redirect_uri": "http://127.0.0.1:9/callback"},
        {**base, "client_id": oidc.client_id, "redirect_uri": "http://evil.example/cb"},
    ):
        response = requests.get(oidc.authorization_endpoint, params=params, allow_redirects=False, timeout=5)
        assert response.status_code == 400  # no redirect to an unverified place


def test_user_refusal(oidc):
    oidc.next_error = "access_denied"
    with _session(oidc) as session:
        callback, state = _authorize(oidc, session, "e" * 64)
    assert parse_qs(urlsplit(callback).query) == {
        "error": ["access_denied"],
        "error_description": ["the user refused"],
        "state": [state],
    }


def test_tamper_nonce_fails_validation(oidc):
    oidc.tamper_nonce = True
    verifier = "f" * 64
    with _session(oidc) as session:
        callback, _ = _authorize(oidc, session, verifier)
        token = session.fetch_token(oidc.token_endpoint, authorization_response=callback, code_verifier=verifier)
    with pytest.raises(InvalidClaimError, match="nonce"):
        _verify_id_token(oidc, token, nonce="n-0S6_WzA2Mj")
    assert oidc.tamper_nonce is False  # one-shot


def test_tamper_signature_fails_verification(oidc):
    oidc.tamper_signature = True
    verifier = "g" * 64
    with _session(oidc) as session:
        callback, _ = _authorize(oidc, session, verifier)
        token = session.fetch_token(oidc.token_endpoint, authorization_response=callback, code_verifier=verifier)
    with pytest.raises(BadSignatureError):
        _verify_id_token(oidc, token, nonce="n-0S6_WzA2Mj")


def test_authlib_flask_client_logs_in_against_the_fake():
    """The exact integration the app uses (Flask + Authlib registry via server_metadata_url)."""
    from authlib.integrations.flask_client import OAuth
    from flask import Flask, jsonify, url_for

    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", SERVER_NAME="localhost", TESTING=True)
    oauth = OAuth(app)
    with FakeOIDCProvider(redirect_uris=["http://localhost/callback"]) as provider:
        oauth.register(
            "google",
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.metadata_url,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )

        @app.get("/login")
        def login():
            return oauth.google.authorize_redirect(url_for("callback", _external=True))

        @app.get("/callback")
        def callback():
            token = oauth.google.authorize_access_token()
            return jsonify(sub=token["userinfo"]["sub"], email=token["userinfo"]["email"])

        provider.next_user = {
            "sub": "42",
            "email": "carol@example.com",
            "email_verified": True,
            "name": "Carol",
        }
        web = app.test_client()
        to_provider = web.get("/login").headers["Location"]
        back = requests.get(to_provider, allow_redirects=False, timeout=5).headers["Location"]
        parts = urlsplit(back)
        result = web.get(f"{parts.path}?{parts.query}")
        assert result.status_code == 200
        assert result.get_json() == {"sub": "42", "email": "carol@example.com"}

        provider.tamper_nonce = True
        to_provider = web.get("/login").headers["Location"]
        back = urlsplit(requests.get(to_provider, allow_redirects=False, timeout=5).headers["Location"])
        with pytest.raises(InvalidClaimError):
            web.get(f"{back.path}?{back.query}")


# -------------------------------------------------------------------------------------------- S3


def test_moto_s3_server_round_trip():
    boto3 = pytest.importorskip("boto3")
    from tests.fakes.s3_server import FakeS3

    with FakeS3() as s3:
        assert s3.endpoint_url.startswith("http://127.0.0.1:")
        s3.create_bucket("stylelicense-test")
        client = boto3.client("s3", **s3.client_kwargs())
        try:
            client.put_object(Bucket="stylelicense-test", Key="a/b.txt", Body=b"hello")
            body = client.get_object(Bucket="stylelicense-test", Key="a/b.txt")["Body"].read()
            assert body == b"hello"
            s3.reset()
            assert client.list_buckets()["Buckets"] == []
        finally:
            client.close()
