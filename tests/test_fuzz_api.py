"""Standing fuzz campaign: schemathesis generates requests from /api/openapi.json for every operation,
anonymous and signed in (with the CSRF token, as the SPA sends it), against the app on PostgreSQL.

No answer may be a server error, and every answer must conform to the document: its status is
documented, its content type is the documented one, and its body validates against the documented
schema, closed here so that a field the document does not describe fails too (schemathesis'
``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance`` and
``response_schema_conformance`` checks). Every JSON answer uses the envelope.

The database holds a small world (an artist's public style, the fuzzer's delivered generation with
its licence, a comment, a like, a follow, a notification), so lists answer with items, and every
operation that names only that world's resources is also called once with their real ids (signed
in; anonymous: the reads), so successful answers are checked, not only refusals. Time-bounded: a few
examples per operation (FUZZ_EXAMPLES, default 4), no shrinking beyond hypothesis' defaults.

Prints the counts (operations, cases, status classes, failures) for the report."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from stylelicense.extensions import db
from stylelicense.models import utcnow
from stylelicense.provenance.operations import ensure_licence
from stylelicense.provenance.serials import format_serial
from stylelicense.users.models import User
from tests import factories

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations that end the fuzzing session itself (the signed-in run would go on anonymously).
SESSION_ENDERS = {("POST", "/api/auth/logout"), ("DELETE", "/api/users/me")}
# Valid bodies for the calls on the seeded world's resources.
BODIES = {
    ("POST", "/api/generations/{generation_id}/comments"): {"body": "Fuzzed, kindly"},
    ("PATCH", "/api/generations/{generation_id}"): {"is_public": True},
    ("PATCH", "/api/comments/{comment_id}"): {"body": "Edited by the fuzzer"},
}


def _closed(node, components: dict, seen: set[str]) -> None:
    """Forbid undocumented fields in every object schema a response can use (following $refs)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                _closed(components[name], components, seen)
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _closed(value, components, seen)
    elif isinstance(node, list):
        for value in node:
            _closed(value, components, seen)


def _operations(app):
    """The document as served, its response schemas closed: an answer carrying a field the document does
    not describe fails conformance too (request schemas stay open, so the fuzzer still sends extras)."""
    document = app.test_client().get("/api/openapi.json").get_json()
    components = document.get("components", {}).get("schemas", {})
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                _closed(operation.get("responses", {}), components, set())
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SESSION_ENDERS:
            yield operation


def _signed_in(app, login) -> tuple[dict, dict]:
    client = app.test_client()
    login(client, "fuzzer")
    client.post("/api/users/me/upgrade-to-artist", data={})  # (refused: the fuzzer stays a plain user)
    token = client.get("/api/auth/csrf").get_json()["data"]["csrf_token"]
    return {"session": client.get_cookie("session").value}, {"X-CSRFToken": token}


def _world(app) -> dict[str, object]:
    """Rows for the fuzzer (signed in as "fuzzer") to find; returns the path parameters of real ones."""
    with factories.seeded(app):
        fuzzer = db.session.query(User).filter_by(username="fuzzer").one_or_none() or factories.create_user("fuzzer")
        painter = factories.create_artist("fuzz_painter", "Fuzz Painter")
        style = factories.create_style(painter, title="Fuzz Ink", lora_key="styles/1/lora.safetensors")
        generation = factories.create_generation(fuzzer, style, is_public=True)
        licence = ensure_licence(generation, style, fuzzer)
        licence.sha256, licence.phash, licence.dhash, licence.delivered_at = "0" * 64, 1, 2, utcnow()
        comment = factories.create_comment(fuzzer, generation)
        factories.create_like(fuzzer, generation)
        factories.create_follow(fuzzer, painter)
        notification = factories.create_notification(fuzzer, actor=painter, target_id=generation.id)
        db.session.flush()
        return {
            "generation_id": generation.id,
            "style_id": style.id,
            "user_id": painter.id,
            "comment_id": comment.id,
            "notification_id": notification.id,
            "serial": format_serial(licence.serial),
        }


@pytest.mark.parametrize("who", ["anonymous", "signed_in"])
def test_every_answer_conforms_and_none_is_a_server_error(app, login, who, capsys):
    cookies, headers = _signed_in(app, login) if who == "signed_in" else ({}, {})
    known = _world(app)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    operations = list(_operations(app))

    def check(case, response) -> None:
        counts["cases"] += 1
        counts[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code}: "
                    f"{failure.title}: {str(failure.message)[:300]}"
                )
        if "json" in (response.headers.get("Content-Type") or [""])[0]:
            body = response.json()
            if isinstance(body, dict) and "success" in body:
                assert (body["success"] is True) == (response.status_code < 400), body

    # The world's real resources first (the fuzzing below may delete or change them): every operation
    # that names only known resources, reads first and deletions last, with a valid body where one is needed.
    order = {"GET": 0, "POST": 1, "PATCH": 1, "DELETE": 2}
    for operation in sorted(operations, key=lambda op: order.get(op.method.upper(), 1)):
        names = [p.name for p in operation.path_parameters]
        key = (operation.method.upper(), operation.path)
        if who == "anonymous" and key[0] != "GET":
            continue  # refused before anything is read (no CSRF token): the fuzzing covers that
        if names and all(name in known for name in names) and (key in BODIES or not len(operation.body)):
            case = operation.Case(
                path_parameters={name: known[name] for name in names},
                **({"body": BODIES[key], "media_type": "application/json"} if key in BODIES else {}),
            )
            check(case, case.call(headers=headers, cookies=cookies))

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            check(case, case.call(headers={**(case.headers or {}), **headers}, cookies=cookies))

        run()

    with capsys.disabled():
        print(
            f"\nfuzz {who}: {len(operations)} operations, {counts['cases']} cases, "
            f"{dict(sorted((k, v) for k, v in counts.items() if k.endswith('xx')))}, "
            f"{len(failures)} failures"
        )
    assert not failures, "\n".join(failures[:20])
