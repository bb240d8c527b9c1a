"""Crafted input is a 4xx, never a 500: malformed and forged cursors on every list, NUL bytes in
paths, query strings and bodies, ids beyond 64 bits in paths and bodies, deeply nested JSON."""

from __future__ import annotations

import base64
import json
import re

import pytest

from stylelicense.extensions import db
from tests import factories
from tests.conftest import INTERNAL_TOKEN

HUGE = 2**70


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_VALUES = [
    '"x"',
    str(HUGE),
    str(-HUGE),
    '{"t":"nope"}',
    '{"t":5}',
    '{"t":"9999-12-31T23:59:59+00:00"}',
    "null",
    "[1]",
    "true",
    "1e400",
    '"\\u0000"',
    '{"a":1}',
    "1.5",
]
FORGED = [
    "!!!",
    "%%%",
    "a" * 2000,
    b64("not json"),
    b64('{"a":1}'),
    b64("[]"),
    b64("[" * 5000 + "]" * 5000),
    b64('"' + "\\u0000" + '"'),
]
for size in (1, 2, 3, 4):
    for bad in BAD_VALUES:
        # The bad value in every position, the other positions plausible.
        for position in range(size):
            values = ['{"t":"2020-01-01T00:00:00+00:00"}'] * size
            values[-1] = "1"
            values[position] = bad
            FORGED.append(b64("[" + ",".join(values) + "]"))


@pytest.fixture
def world(app, client, login):
    """An artist (signed in on ``client``) with a trained style, a public image, a comment and a
    notification: every list has something to page through."""
    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(artist, title="Ink Wash", lora_key="styles/1/lora.safetensors")
        fan = factories.create_user("fan")
        image = factories.create_generation(artist, style, is_public=True)
        factories.create_generation(fan, style, is_public=True)
        db.session.commit()
        ids = {"user_id": artist.id, "style_id": style.id, "generation_id": image.id}
    login(client, "painter")
    client.post(f"/api/generations/{ids['generation_id']}/comments", json={"body": "first"})
    return ids


def list_paths(app, world) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        query = getattr(view, "_openapi", {}).get("query")
        if "GET" in rule.methods and query is not None and "cursor" in query.model_fields:
            paths.append(re.sub(r"<int:(\w+)>", lambda m: str(world[m.group(1)]), rule.rule))
    return sorted(paths)


def assert_refused(response, allowed=(400, 404, 422)):
    assert response.status_code in allowed, (response.request.url, response.status_code, response.get_json())
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"]


def test_every_list_refuses_malformed_and_forged_cursors(app, client, world):
    paths = list_paths(app, world)
    assert len(paths) >= 8, paths  # every list is covered (a new list joins automatically)
    for path in paths:
        extra = "&q=ink" if path.endswith("/search") else ""
        assert client.get(path, query_string=extra.lstrip("&")).status_code == 200, path
        for cursor in FORGED:
            response = client.get(path, query_string=f"cursor={cursor}{extra}")
            assert_refused(response, (422,))
            assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_every_list_refuses_nul_and_huge_numbers_in_the_query(app, client, world):
    for path in list_paths(app, world):
        for query in (
            "limit=99999999999999999999999",
            "limit=-1",
            "limit=%00",
            "cursor=%00",
            "q=%00ink",
            "tag=a%00b",
            "type=%00",
            "sort=%00",
            "visibility=%00",
            "x%00=1",
        ):
            assert_refused(client.get(path, query_string=query))


def test_ids_beyond_64_bits_in_any_path_are_not_found(app, client, world):
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for number, allowed in ((HUGE, (404,)), (2**40, (404, 422))):
            path = re.sub(r"<int:\w+>", str(number), rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(path, method=method, json={} if method != "GET" else None)
                assert_refused(response, allowed)


@pytest.mark.parametrize(
    "path", ["/api/licences/%00abc", "/media/%00x.png", "/media/private/a%00b", "/api/users/%00", "/%00"]
)
def test_nul_bytes_in_paths_are_refused(client, world, path):
    assert_refused(client.get(path))


@pytest.mark.parametrize(
    "body",
    [
        {"style_id": HUGE, "prompt_tags": ["cat"]},
        {"style_id": 2**40, "prompt_tags": ["cat"]},  # fits 64 bits, not the 32-bit id column
        {"style_id": 2**64 - 1, "prompt_tags": ["cat"]},
        {"style_id": -HUGE, "prompt_tags": ["cat"]},
        {"style_id": 1, "prompt_tags": ["c\x00at"]},
        {"style_id": 1, "prompt_tags": ["cat"], "description": "a\x00b"},
        {"style_id": 1, "prompt_tags": ["cat"], "seed": HUGE},
        {"style_id": 1, "prompt_tags": ["cat"], "a\x00": 1},
        {"style_id": 1, "prompt_tags": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["cat"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ],
)
def test_crafted_bodies_are_refused_and_nothing_is_charged(client, world, body):
    before = client.get("/api/tokens/balance").get_json()["data"]["token_balance"]
    assert_refused(client.post("/api/generations", json=body), (404, 422))
    assert client.get("/api/tokens/balance").get_json()["data"]["token_balance"] == before


@pytest.mark.parametrize("depth", [50, 5000, 100_000])
def test_deeply_nested_json_is_refused(client, world, depth):
    raw = '{"style_id": 1, "prompt_tags": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/api/generations", data=raw, content_type="application/json")
    assert_refused(response, (400, 413, 422))


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/auth/dev-login", {"email": "a\x00@example.com", "username": "abc"}),
        ("/api/comments/1", {"body": "hi\x00"}),
        ("/api/users/me", {"bio": "\x00"}),
        ("/api/tokens/purchase", {"package_id": "\x00"}),
        ("/api/tokens/purchase/confirm", {"payment_key": "k\x00", "order_id": "o", "amount": HUGE}),
    ],
)
def test_nul_and_huge_values_in_other_bodies(client, world, path, body):
    method = "PATCH" if path in ("/api/comments/1", "/api/users/me") else "POST"
    assert_refused(client.open(path, method=method, json=body), (404, 422))


def test_webhooks_refuse_crafted_ids(client, world):
    headers = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "inference-server"}
    for body in (
        {"generation_id": HUGE, "current_step": 0, "total_steps": 30},
        {"generation_id": 1, "current_step": HUGE, "total_steps": 30},
        {"generation_id": 1, "current_step": 0, "total_steps": 30, "run_id": "\x00"},
    ):
        response = client.open(
            "/api/webhooks/inference/progress",
            method="PATCH",
            data=json.dumps(body),
            content_type="application/json",
            headers=headers,
            csrf=False,
        )
        assert_refused(response, (422,))
