"""Standing fuzz campaign: schemathesis generates requests from /api/openapi.json for every operation,
anonymous and signed in (with the CSRF token, as the SPA sends it), against the app on PostgreSQL.
No answer may be a server error, and every JSON answer uses the envelope. Time-bounded: a few
examples per operation (FUZZ_EXAMPLES, default 4), no shrinking beyond hypothesis' defaults.

Prints the counts (operations, requests, status classes) for the report."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# Operations that end the fuzzing session itself (the signed-in run would go on anonymously).
SESSION_ENDERS = {("POST", "/api/auth/logout"), ("DELETE", "/api/users/me")}


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
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


@pytest.mark.parametrize("who", ["anonymous", "signed_in"])
def test_no_operation_answers_with_a_server_error(app, login, who, capsys):
    cookies, headers = _signed_in(app, login) if who == "signed_in" else ({}, {})
    counts: Counter[str] = Counter()
    failures: list[str] = []
    operations = list(_operations(app))

    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers={**(case.headers or {}), **headers}, cookies=cookies)
            counts["requests"] += 1
            counts[f"{response.status_code // 100}xx"] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                f"{response.text[:200]}")
            elif "json" in (response.headers.get("Content-Type") or [""])[0]:
                body = response.json()
                if isinstance(body, dict) and "success" in body:
                    assert (body["success"] is True) == (response.status_code < 400), body

        run()

    with capsys.disabled():
        print(f"\nfuzz {who}: {len(operations)} operations, {counts['requests']} requests, "
              f"{dict(sorted((k, v) for k, v in counts.items() if k.endswith('xx')))}, "
              f"{len(failures)} server errors")
    assert not failures, "\n".join(failures[:20])
