"""One source of limits and codes: GET /api/config publishes the server's limits, packages and error
codes (and is in the OpenAPI document); the SPA has an en and a ko message for every code."""

from __future__ import annotations

import json
import re
import subprocess

from stylelicense import limits
from stylelicense.styles.schemas import MAX_IMAGES, MIN_IMAGES
from stylelicense.tags.operations import MAX_TAGS
from tests.conftest import ROOT

LOCALES = ROOT / "frontend" / "src" / "i18n" / "locales"


def test_config_publishes_the_limits_the_server_enforces(client):
    data = client.get("/api/config").get_json()["data"]
    assert data["limits"] == limits.limits()
    assert (data["limits"]["min_images"], data["limits"]["max_images"]) == (MIN_IMAGES, MAX_IMAGES)
    assert data["limits"]["max_tags_per_image"] == MAX_TAGS == 20
    assert [p["id"] for p in data["packages"]] == ["basic_100", "standard_500", "premium_1000"]
    codes = set(data["error_codes"])
    assert {"VALIDATION_ERROR", "INSUFFICIENT_TOKENS", "PAYMENTS_UNAVAILABLE", "RATE_LIMITED"} <= codes
    assert "GENERATION_FINISHED" not in data["error_codes"]  # webhook-only


def test_config_is_in_the_openapi_document(client):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/config"]["get"]
    assert operation["summary"]
    assert "limits" in json.dumps(document["components"]["schemas"]["ConfigOut"])


def test_every_error_code_has_an_english_and_a_korean_message(app):
    with app.app_context():
        codes = set(limits.error_codes())
    for locale in ("en", "ko"):
        messages = json.loads((LOCALES / f"{locale}.json").read_text())["errors"]
        missing = sorted(code for code in codes if not messages.get(code))
        assert missing == [], f"{locale}.json lacks messages for {missing}"


def test_every_code_raised_by_name_is_published_or_webhook_only(app):
    """A ``code="..."`` written anywhere in the API is in the published list (or answers workers only)."""
    written = set()
    for path in (ROOT / "stylelicense").rglob("*.py"):
        written |= set(re.findall(r'\bcode="([A-Z_]+)"', path.read_text()))
    with app.app_context():
        known = set(limits.error_codes()) | set(limits.WEBHOOK_CODES)
    assert sorted(written - known) == []


def test_the_spa_fallback_limits_equal_the_servers():
    """validation/limits.js keeps fallbacks for when /api/config cannot be read: they must not drift."""
    source = (ROOT / "frontend" / "src" / "validation" / "limits.js").read_text()
    block = source[source.index("export const LIMITS = {") : source.index("}", source.index("export const LIMITS = {"))]
    spa = {
        key: eval(value.replace("MB", str(1024 * 1024)))  # noqa: S307 — numbers and `N * MB` only
        for key, value in re.findall(r"^\s*(\w+): ([\d\s*MB]+),", block, re.M)
    }
    names = dict(re.findall(r"^\s*(\w+): '(\w+)',", source[source.index("SERVER_NAMES") :], re.M))
    server = limits.limits()
    assert set(names) <= set(server)
    assert {names[name]: server[name] for name in names} == {names[name]: spa[names[name]] for name in names}
    megabytes = {
        "maxSignatureMb": "max_signature_bytes",
        "maxProfileImageMb": "max_profile_image_bytes",
        "maxImageMb": "max_image_bytes",
        "maxVerifyMb": "max_verify_bytes",
    }
    mb = 1024 * 1024
    assert {key: spa[key] for key in megabytes} == {key: server[name] // mb for key, name in megabytes.items()}


# SPA response schema (frontend/src/api/schemas.js) → the OpenAPI component of the answer it parses (artist
# cards travel only inside following entries now: search answers flat artist hits, SPEC §6.1).
SPA_SCHEMAS = {
    "artistCardSchema": "FollowingOut",
    "artistSummarySchema": "StyleArtistOut",
    "balanceSchema": "BalanceOut",
    "certificateSchema": "CertificateOut",
    "commentDeletedSchema": "CommentDeletedOut",
    "commentSchema": "CommentOut",
    "configSchema": "ConfigOut",
    "confirmSchema": "PurchaseOut",
    "csrfSchema": "CsrfOut",
    "dashboardSchema": "DashboardOut",
    "followingSchema": "FollowingOut",
    "generationProgressSchema": "ProgressOut",
    "generationSchema": "GenerationOut",
    "licenceTermsSchema": "TermsOut",
    "likeResultSchema": "LikeOut",
    "meSchema": "MeOut",
    "notificationListSchema": "NotificationListOut",
    "notificationSchema": "NotificationOut",
    "packageSchema": "PackageOut",
    "publicUserSchema": "PublicProfileOut",
    "purchaseSchema": "CheckoutOut",
    "replySchema": "CommentOut",
    "styleSchema": "StyleOut",
    "trainingProgressSchema": "TrainingProgressOut",
    "transactionSchema": "TransactionOut",
    "unreadCountSchema": "UnreadCountOut",
    "userRefSchema": "UserSummaryOut",
    "verifyLicenceSchema": "VerifyLicenceOut",
    "verifyResultSchema": "VerifyOut",
    "searchStyleHitSchema": "StyleHitOut",
    "searchArtistHitSchema": "ArtistHitOut",
}
# Optional fields the SPA reads when present but the server does not send: aliases of older drafts and
# flat variants of artist cards. The test fails when one of these appears on
# the server (then it is no longer an extra: remove it here) and on any new field the server lacks.
SPA_EXTRAS = {
    "artistCardSchema": {"artist_name", "follower_count", "user_id", "matched_by"},
    "artistSummarySchema": {"username", "profile_image_url", "follower_count", "is_following"},
    "followingSchema": {"artist_name", "follower_count", "user_id", "matched_by", "styles"},
    "generationSchema": {"user", "liked_by_me"},
    "publicUserSchema": {"is_following"},
    "styleSchema": {"matched_by"},
}


def _properties(components: dict, name: str) -> dict:
    component = components[name]
    if "$ref" in component:
        return _properties(components, component["$ref"].rsplit("/", 1)[-1])
    return component.get("properties", {})


def test_the_spa_response_schemas_agree_with_the_openapi_document(client):
    """Every field a Zod response schema of the SPA declares is in the server's schema of that answer
    (required ones always; optional ones unless listed as a known extra)."""
    result = subprocess.run(
        ["node", "scripts/schema-fields.mjs"], cwd=ROOT / "frontend", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    spa = json.loads(result.stdout)
    components = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert set(SPA_SCHEMAS) <= set(spa), sorted(set(SPA_SCHEMAS) - set(spa))
    problems = {}
    for name, component in SPA_SCHEMAS.items():
        server = set(_properties(components, component))
        fields = spa[name]
        missing_required = sorted(f for f, required in fields.items() if required and f not in server)
        unknown = sorted(
            f
            for f, required in fields.items()
            if not required and f not in server and f not in SPA_EXTRAS.get(name, set())
        )
        stale = sorted(SPA_EXTRAS.get(name, set()) & server)
        if missing_required or unknown or stale:
            problems[name] = {"required, not sent": missing_required, "not sent": unknown, "now sent": stale}
    assert problems == {}
