"""A loopback fake of Google's OpenID Connect provider (authorization code flow + PKCE).

It is strict where a client can go wrong: it insists on ``response_type=code``, an ``openid`` scope,
``state``, ``nonce`` and an S256 ``code_challenge``; codes are single-use, short-lived and bound to
the client, redirect URI, PKCE challenge and nonce; ID tokens are RS256 JWTs signed with a key made
at ``start()`` and published at ``/jwks``.

There is no login page: ``GET /authorize`` answers 302 straight to
``redirect_uri?code=…&state=…`` for ``provider.next_user``. Point Authlib at ``provider.metadata_url``
(``server_metadata_url=``) and the app's Google login runs against it unchanged.

Hooks: ``next_user`` (who "logs in"), ``next_error`` (e.g. ``"access_denied"``: the user refuses,
one-shot), ``tamper_nonce`` / ``tamper_signature`` (the next ID token carries a wrong nonce / a
signature by a key not in the JWKS, one-shot), ``redirect_uris`` (allow-list; ``None`` = any),
``requests`` (log of every request received).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.fakes._http import LoopbackServer, Request, Response

DEFAULT_USER = {
    "sub": "100000000000000000001",
    "email": "alice@example.com",
    "email_verified": True,
    "name": "Alice Example",
    "given_name": "Alice",
    "family_name": "Example",
    "picture": "https://lh3.googleusercontent.com/a/fake-alice",
    "locale": "en",
}


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    user: dict[str, Any]
    expires_at: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        {"error": error, "error_description": description},
        {"Cache-Control": "no-store", **(headers or {})},
    )


class FakeOIDCProvider(LoopbackServer):
    """Fake Google OIDC provider on ``http://127.0.0.1:<port>``.

    :param client_id: the client id it accepts.
    :param client_secret: the client secret it accepts (``client_secret_post`` or ``client_secret_basic``).
    :param redirect_uris: allowed redirect URIs (exact match); ``None`` accepts any.
    :param code_ttl: seconds an authorization code stays valid.
    :param token_ttl: lifetime of access and ID tokens in seconds.
    """

    def __init__(
        self,
        client_id: str = "fake-client-id.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret",
        redirect_uris: list[str] | None = None,
        code_ttl: float = 60.0,
        token_ttl: int = 3600,
    ):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.code_ttl = code_ttl
        self.token_ttl = token_ttl
        self.next_user: dict[str, Any] = dict(DEFAULT_USER)
        self.next_error: str | None = None
        self.tamper_nonce = False
        self.tamper_signature = False
        self.requests: list[dict[str, Any]] = []
        self.issued_id_tokens: list[str] = []
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self._key: RSAKey | None = None
        self._kid = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOIDCProvider:
        """Make a fresh RS256 signing key, then start serving."""
        self._kid = secrets.token_hex(8)
        self._key = RSAKey.generate_key(2048, parameters={"kid": self._kid, "use": "sig", "alg": "RS256"})
        super().start()
        return self

    # ------------------------------------------------------------------ addresses

    @property
    def issuer(self) -> str:
        """The ``iss`` of its ID tokens: ``http://127.0.0.1:<port>``."""
        return self.base_url

    @property
    def metadata_url(self) -> str:
        """``<issuer>/.well-known/openid-configuration`` (Authlib's ``server_metadata_url``)."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/userinfo"

    def jwks(self) -> dict[str, Any]:
        """The public key set served at ``/jwks``."""
        if self._key is None:
            raise RuntimeError("not started")
        return {"keys": [self._key.as_dict(private=False)]}

    def metadata(self) -> dict[str, Any]:
        """The discovery document served at ``metadata_url``."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.userinfo_endpoint,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud",
                "email",
                "email_verified",
                "exp",
                "family_name",
                "given_name",
                "iat",
                "iss",
                "name",
                "picture",
                "sub",
                "nonce",
                "at_hash",
                "azp",
            ],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
        }

    # ------------------------------------------------------------------ server

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": dict(request.query),
                    "form": request.form() if request.method == "POST" else {},
                    "headers": dict(request.headers),
                }
            )
        route = (request.method, request.path)
        if route == ("GET", "/.well-known/openid-configuration"):
            return Response(200, self.metadata())
        if route == ("GET", "/jwks"):
            return Response(200, self.jwks())
        if route == ("GET", "/authorize"):
            return self._authorize(request)
        if route == ("POST", "/token"):
            return self._token(request)
        if request.path == "/userinfo" and request.method in ("GET", "POST"):
            return self._userinfo(request)
        return Response(404, {"error": "not_found"})

    def _authorize(self, request: Request) -> Response:
        q = request.query
        # Errors about the client or redirect URI must not redirect (RFC 6749 §4.1.2.1).
        if q.get("client_id") != self.client_id:
            return Response(400, "Error 401: invalid_client — The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            return Response(400, "Error 400: invalid_request — Missing or invalid redirect_uri.")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return Response(400, "Error 400: redirect_uri_mismatch")

        state = q.get("state")

        def fail(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description}
            if state:
                params["state"] = state
            return Response(302, b"", {"Location": _with_query(redirect_uri, params)})

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        scope = q.get("scope", "")
        if "openid" not in scope.split():
            return fail("invalid_scope", "scope must contain openid")
        if not state:
            return fail("invalid_request", "state is required")
        if not q.get("nonce"):
            return fail("invalid_request", "nonce is required")
        if not q.get("code_challenge"):
            return fail("invalid_request", "code_challenge is required (PKCE)")
        if q.get("code_challenge_method") != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")

        with self._lock:
            refusal, self.next_error = self.next_error, None
            if refusal:
                return fail(refusal, "the user refused")
            code = "4/" + secrets.token_urlsafe(32)
            self._codes[code] = _Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                scope=scope,
                nonce=q["nonce"],
                code_challenge=q["code_challenge"],
                user=dict(self.next_user),
                expires_at=time.monotonic() + self.code_ttl,
            )
        return Response(302, b"", {"Location": _with_query(redirect_uri, {"code": code, "state": state})})

    def _client_auth(self, request: Request, form: dict[str, str]) -> str | None:
        """Return the authenticated client id, or ``None``."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except ValueError:
                return None
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(secret, self.client_secret):
            return client_id
        return None

    def _token(self, request: Request) -> Response:
        form = request.form()
        if self._client_auth(request, form) is None:
            return _oauth_error(401, "invalid_client", "Unauthorized", {"WWW-Authenticate": 'Basic realm="token"'})
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        code = form.get("code", "")
        with self._lock:
            grant = self._codes.pop(code, None)  # single use, even when the exchange fails below
        if grant is None or grant.expires_at < time.monotonic():
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if not verifier:
            return _oauth_error(400, "invalid_grant", "Missing code verifier.")
        if not hmac.compare_digest(s256(verifier), grant.code_challenge):
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")

        access_token = "ya29." + secrets.token_urlsafe(32)
        now = int(time.time())
        user = grant.user
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": str(user["sub"]),
            "at_hash": s256_half(access_token),
            "nonce": grant.nonce,
            "iat": now,
            "exp": now + self.token_ttl,
        }
        scopes = grant.scope.split()
        if "email" in scopes:
            for name in ("email", "email_verified"):
                if name in user:
                    claims[name] = user[name]
        if "profile" in scopes:
            for name in ("name", "picture", "given_name", "family_name", "locale"):
                if name in user:
                    claims[name] = user[name]
        with self._lock:
            if self.tamper_nonce:
                self.tamper_nonce = False
                claims["nonce"] = "tampered-" + secrets.token_urlsafe(8)
            key = self._key
            if self.tamper_signature:
                self.tamper_signature = False
                key = RSAKey.generate_key(2048, parameters={"kid": self._kid})
            self._access_tokens[access_token] = {"user": user, "expires_at": now + self.token_ttl}
        id_token = jwt.encode({"alg": "RS256", "kid": self._kid, "typ": "JWT"}, claims, key)
        with self._lock:
            self.issued_id_tokens.append(id_token)
        return Response(
            200,
            {
                "access_token": access_token,
                "expires_in": self.token_ttl,
                "scope": grant.scope,
                "token_type": "Bearer",
                "id_token": id_token,
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _userinfo(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with self._lock:
            entry = self._access_tokens.get(token)
        if entry is None or entry["expires_at"] < time.time():
            return _oauth_error(
                401,
                "invalid_token",
                "Invalid Credentials",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        user = entry["user"]
        info = {"sub": str(user["sub"])}
        for name in ("email", "email_verified", "name", "picture", "given_name", "family_name", "locale"):
            if name in user:
                info[name] = user[name]
        return Response(200, info)


def s256_half(value: str) -> str:
    """``at_hash`` for RS256: base64url of the left half of SHA-256(value) (OIDC Core §3.1.3.6)."""
    return _b64url(hashlib.sha256(value.encode("ascii")).digest()[:16])
