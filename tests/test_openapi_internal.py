"""Production does not publish the internal webhook routes in its public API document."""

from __future__ import annotations

from tests.conftest import base_env


def test_production_document_leaves_out_internal_webhooks(database_url, tmp_path, client):
    from stylelicense.app import create_app

    development = client.get("/api/openapi.json").get_json()["paths"]
    assert any(path.startswith("/api/webhooks/") for path in development)  # documented for worker authors

    production = create_app(env=base_env(tmp_path, database_url), ENV_NAME="production")
    paths = production.test_client().get("/api/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path.startswith("/api/webhooks/")]
    assert "/api/generations" in paths and "/api/styles/{style_id}" in paths
