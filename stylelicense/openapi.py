"""OpenAPI 3 document built from the ``@endpoint`` metadata, and Swagger UI at /api/docs."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, send_from_directory

bp = Blueprint("openapi", __name__)

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")

_ERROR = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}},
            "required": ["code", "message"],
        },
    },
}


def _schema_ref(model, components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    # A recursive model (a comment with replies) comes back as a bare $ref to its own $defs entry: keep
    # the definition, not a component that points at itself.
    if schema.get("$ref") != f"#/components/schemas/{model.__name__}":
        components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(app: Flask) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    # The internal webhooks (workers, Toss) are not part of the public API: production does not
    # advertise them (development and tests keep them documented for the people who build workers).
    hide_internal = app.config.get("ENV_NAME") == "production"
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "_openapi", None)
        if meta is None or not rule.rule.startswith("/api/"):
            continue
        if hide_internal and rule.rule.startswith("/api/webhooks/"):
            continue
        path = _CONVERTER.sub(r"{\2}", rule.rule)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer" if conv == "int" else "string"}}
            for conv, name in _CONVERTER.findall(rule.rule)
        ]
        if meta["query"] is not None:
            schema = meta["query"].model_json_schema()
            for name, prop in schema.get("properties", {}).items():
                parameters.append(
                    {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
                )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "summary": meta["summary"],
                "tags": [rule.endpoint.split(".")[0]],
                "parameters": parameters,
                "responses": {
                    str(meta["status"]): {
                        "description": "Success",
                        "content": {"application/json": {"schema": _success(meta, components)}},
                    },
                    "default": {
                        "description": "Error envelope",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
            content: dict[str, Any] = {}
            if meta["body"] is not None:
                content["application/json"] = {"schema": _schema_ref(meta["body"], components)}
            if meta["form"] is not None or meta["files"]:
                schema = (
                    meta["form"].model_json_schema()
                    if meta["form"] is not None
                    else {"type": "object", "properties": {}}
                )
                schema.pop("$defs", None)
                for name, kind in meta["files"].items():
                    file_schema = {"type": "string", "format": "binary"}
                    schema.setdefault("properties", {})[name] = (
                        {"type": "array", "items": file_schema} if kind == "array" else file_schema
                    )
                content["multipart/form-data"] = {"schema": schema}
            if content:
                operation["requestBody"] = {"required": True, "content": content}
            if meta["auth"]:
                operation["security"] = [{"session": []}]
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Style License API",
            "version": "1.0.0",
            "description": "Licensed style generation. Envelope: {success, data} / {success: false, error}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        },
    }


def _success(meta: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = _schema_ref(meta["response"], components) if meta["response"] else {}
    if meta["paginated"]:
        data = {
            "type": "object",
            "properties": {
                "results": {"type": "array", "items": data},
                "next_cursor": {"type": ["string", "null"]},
                "has_more": {"type": "boolean"},
            },
        }
    return {"type": "object", "properties": {"success": {"type": "boolean", "const": True}, "data": data}}


@bp.get("/api/openapi.json")
def openapi_json():
    document = current_app.extensions.get("stylelicense.openapi")
    if document is None:
        document = current_app.extensions["stylelicense.openapi"] = build_document(current_app)
    return jsonify(document)


_DOCS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Style License API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});</script></body></html>"""


@bp.get("/api/docs")
def docs():
    return _DOCS_PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/api/docs/static/<path:filename>")
def docs_static(filename: str):
    from swagger_ui_bundle import swagger_ui_path  # served locally: no CDN needed

    return send_from_directory(swagger_ui_path, filename)
