"""Routes of licences and verification (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user

from ..api import endpoint, ok
from ..errors import InvalidImageFormat
from ..extensions import limiter, rate_limit_key
from ..images import read_upload
from . import operations
from .schemas import CertificateOut, VerifyOut

bp = Blueprint("provenance", __name__, url_prefix="/api")


def _viewer():
    return current_user if current_user.is_authenticated else None


@bp.get("/licences/<serial>")
@endpoint(response=CertificateOut, summary="Licence certificate (private images: owner only)")
def get_certificate(serial: str):
    return ok(operations.serialize_certificate(operations.get_visible_licence(serial, _viewer())))


@bp.get("/generations/<int:generation_id>/licence")
@endpoint(response=CertificateOut, summary="The licence certificate of a generation (same visibility)")
def get_generation_certificate(generation_id: int):
    return ok(operations.serialize_certificate(operations.get_generation_licence(generation_id, _viewer())))


def _verify_limit() -> str:
    # Each check decodes, reads the watermark several times and may register against stored images.
    return current_app.config.get("RATELIMIT_VERIFY", "10 per minute")


@bp.post("/verify")
@limiter.limit(_verify_limit, key_func=rate_limit_key)
@endpoint(
    files={"image": "binary"},
    max_bytes=operations.MAX_VERIFY_BYTES + 64 * 1024,
    response=VerifyOut,
    summary="Is this image one of ours? verified | derived | unknown (less detail when anonymous)",
)
def verify():
    upload = request.files.get("image")
    if upload is None:
        raise InvalidImageFormat(
            "Attach the image to verify as the multipart field 'image'.",
            details={"field": "image", "reason": "missing"},
        )
    data = read_upload(upload, max_bytes=operations.MAX_VERIFY_BYTES, field="image")
    return ok(operations.verify_upload(data, _viewer()))
