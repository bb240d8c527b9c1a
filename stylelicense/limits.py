"""Every limit a client must know, gathered from the modules that enforce it, and every error code.

``GET /api/config`` publishes both, so the SPA validates with the server's numbers (never its own copies)
and can check that it has a message for every code. Each limit stays defined next to the check that
enforces it; this module only collects them.
"""

from __future__ import annotations

from typing import Any

from .community.operations import COMMENT_MAX_LENGTH
from .errors import APIError, http_error_codes
from .generations.schemas import MAX_DESCRIPTION as MAX_GENERATION_DESCRIPTION
from .generations.schemas import MAX_PROMPT_TAGS, MAX_SEED
from .images import MAX_PROFILE_IMAGE_PIXELS, MAX_SIGNATURE_PIXELS, MAX_STYLE_IMAGE_PIXELS, MAX_VERIFY_PIXELS
from .provenance.operations import MAX_VERIFY_BYTES, MIN_VERIFY_SIDE
from .styles.schemas import MAX_DESCRIPTION as MAX_STYLE_DESCRIPTION
from .styles.schemas import MAX_IMAGE_BYTES, MAX_IMAGES, MAX_PRICE, MAX_TITLE, MIN_IMAGE_SIDE, MIN_IMAGES, MIN_PRICE
from .tags.operations import MAX_TAG_LENGTH, MAX_TAGS
from .tokens.packages import PACKAGES
from .users.operations import IMAGE_MAX_BYTES
from .users.schemas import ARTIST_NAME_MAX_CHARS, BIO_MAX_CHARS, USERNAME_MAX, USERNAME_MIN

# Codes raised with an explicit ``code=`` (not a class of their own); the error classes add the rest.
EXTRA_CODES = ("ACCOUNT_DEACTIVATED", "CSRF_FAILED", "INTERNAL_ERROR", "PAYMENTS_UNAVAILABLE")
# Only the internal webhooks answer these: the GPU workers read them, no browser ever sees them.
WEBHOOK_CODES = ("GENERATION_FINISHED", "RESULT_MISSING", "TRAINING_FINISHED", "TRAINING_SUPERSEDED")


def limits() -> dict[str, int]:
    """The limits the server enforces, by name (bytes for sizes, characters for texts, pixels for sides and areas)."""
    return {
        "min_images": MIN_IMAGES,
        "max_images": MAX_IMAGES,
        "min_image_side": MIN_IMAGE_SIDE,
        "max_image_bytes": MAX_IMAGE_BYTES,
        "max_image_pixels": MAX_STYLE_IMAGE_PIXELS,
        "max_signature_pixels": MAX_SIGNATURE_PIXELS,
        "max_profile_image_pixels": MAX_PROFILE_IMAGE_PIXELS,
        "max_verify_pixels": MAX_VERIFY_PIXELS,
        "max_signature_bytes": IMAGE_MAX_BYTES,
        "max_profile_image_bytes": IMAGE_MAX_BYTES,
        "min_price": MIN_PRICE,
        "max_price": MAX_PRICE,
        "max_title": MAX_TITLE,
        "max_style_description": MAX_STYLE_DESCRIPTION,
        "max_tag_length": MAX_TAG_LENGTH,
        "max_tags_per_image": MAX_TAGS,
        "max_prompt_tags": MAX_PROMPT_TAGS,
        "max_generation_description": MAX_GENERATION_DESCRIPTION,
        "max_seed": MAX_SEED,
        "min_username": USERNAME_MIN,
        "max_username": USERNAME_MAX,
        "max_bio": BIO_MAX_CHARS,
        "max_artist_name": ARTIST_NAME_MAX_CHARS,
        "max_comment": COMMENT_MAX_LENGTH,
        "max_verify_bytes": MAX_VERIFY_BYTES,
        "min_verify_side": MIN_VERIFY_SIDE,
    }


def packages() -> list[dict[str, Any]]:
    """Token packages, cheapest first (prices are the server's; a client sends only the id)."""
    return [
        {"id": p.id, "tokens": p.tokens, "price": p.price, "currency": p.currency}
        for p in sorted(PACKAGES.values(), key=lambda p: p.price)
    ]


def error_codes() -> list[str]:
    """Every code a browser can receive in an error envelope (SPEC §6), sorted. Needs the app's modules
    imported (``create_app`` does it), so the feature modules' own error classes are counted."""
    codes: set[str] = set(EXTRA_CODES) | http_error_codes()
    pending: list[type[APIError]] = [APIError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes - set(WEBHOOK_CODES))
