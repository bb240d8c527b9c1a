"""Foundation: app factory, configuration, envelope, health, OpenAPI, migrations."""

from __future__ import annotations

import pytest

from stylelicense.config import ConfigError, load_config


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["storage"] == "ok"


def test_unknown_api_route_uses_error_envelope(client):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.get_json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": response.get_json()["error"]["message"], "details": {}},
    }


def test_openapi_document_lists_endpoints(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/auth/me" in document["paths"]
    assert "/api/auth/dev-login" in document["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.data
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(
    "env, message",
    [
        ({"STYLELICENSE_ENV": "production", "INTERNAL_API_TOKEN": "t"}, "SECRET_KEY"),
        ({"STYLELICENSE_ENV": "production", "SECRET_KEY": "s"}, "INTERNAL_API_TOKEN"),
        (
            {
                "STYLELICENSE_ENV": "production",
                "SECRET_KEY": "s",
                "INTERNAL_API_TOKEN": "t",
                "STYLELICENSE_DEV_LOGIN": "1",
            },
            "DEV_LOGIN",
        ),
        (
            {
                "STYLELICENSE_ENV": "production",
                "SECRET_KEY": "s",
                "INTERNAL_API_TOKEN": "t",
                "TOSS_SECRET_KEY": "test_sk_abc",
            },
            "test key",
        ),
        ({"STYLELICENSE_ENV": "staging"}, "STYLELICENSE_ENV"),
    ],
)
def test_production_refuses_unsafe_configuration(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, env)


def test_production_config_has_no_dev_login_or_sandbox(tmp_path):
    config = load_config(tmp_path, {"STYLELICENSE_ENV": "production", "SECRET_KEY": "s", "INTERNAL_API_TOKEN": "t"})
    assert config["DEV_LOGIN_ENABLED"] is False
    assert config["SANDBOX_CHECKOUT"] is False
    assert config["SESSION_COOKIE_SECURE"] is True


def test_development_defaults_are_embedded(tmp_path):
    config = load_config(tmp_path, {})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CELERY_BROKER_URL"] == "filesystem://"
    assert config["STORAGE_URL"].startswith("file://")
    assert config["DEV_LOGIN_ENABLED"] is True
    # Generated once per instance folder, stable across restarts.
    assert load_config(tmp_path, {})["SECRET_KEY"] == config["SECRET_KEY"]


def test_security_headers(client):
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Request-ID"]
