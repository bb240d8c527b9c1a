"""Licence rules: issuing a licence per generation, recording the delivered file, certificates, and
verifying an uploaded file against every licence. Operations flush, never commit.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import BigInteger, cast, func, literal, select
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import selectinload

from ..api import iso
from ..errors import ImageSizeExceeded, InvalidImageFormat, NotFound, ValidationError
from ..extensions import db
from ..generations.files import file_url
from ..generations.models import Generation
from ..images import MAX_VERIFY_PIXELS, too_many_pixels
from ..models import utcnow
from ..storage import get_storage
from ..styles.safeguards import register_output
from . import keys, verification
from .hashes import from_signed, to_signed
from .models import Licence, LicenceHash
from .schemas import ProvenanceReport
from .serials import format_serial, new_serial, parse_serial
from .terms import CURRENT_TERMS_VERSION, terms_path, terms_summary

MAX_VERIFY_BYTES = 10 * 1024 * 1024
MIN_VERIFY_SIDE = 64
# Generations are at most 1024 px a side: a bigger JPEG is decoded reduced, never below this short side.
_DRAFT_SIDE = max(max(size) for size in verification.GENERATION_SIZES)


# --- issuing and delivery --------------------------------------------------------------------


def ensure_licence(generation: Generation, style, user) -> Licence:
    """The generation's licence, issued now if it has none: a fresh random serial, the current
    terms, the artist and style names and the licensee's username as they are today. Called when
    the job is built, so the worker writes the serial into the image."""
    licence = db.session.scalar(select(Licence).where(Licence.generation_id == generation.id))
    if licence is not None:
        return licence
    artist = style.artist
    licence = Licence(
        serial=new_serial(),
        generation_id=generation.id,
        terms_version=CURRENT_TERMS_VERSION,
        artist_id=artist.id,
        style_id=style.id,
        buyer_id=user.id,
        artist_name=artist.artist_name,
        style_title=style.title,
        licensee_name=user.username,
    )
    db.session.add(licence)
    db.session.flush()
    return licence


def certificate_url(serial: int) -> str:
    """The public certificate page of a licence (the SPA's /licences/<serial>)."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/licences/{format_serial(serial)}"


def record_delivery(generation: Generation, report: ProvenanceReport | dict | None) -> Licence | None:
    """Store the delivered file's hashes on the generation's licence (called when it completes).

    The report must name the licence's own serial; a generation without a licence (issued before
    licences existed) or a worker without provenance (no report) leaves nothing to record.
    """
    licence = db.session.scalar(select(Licence).where(Licence.generation_id == generation.id))
    if licence is None or report is None:
        return licence
    if isinstance(report, dict):
        report = ProvenanceReport(**report)
    if report.serial != licence.serial:
        raise ValidationError(
            "The reported licence serial is not this generation's.",
            details={"fields": [{"field": "provenance.serial", "message": "mismatch"}]},
        )
    licence.sha256 = report.sha256
    licence.phash = to_signed(report.phash)
    licence.dhash = to_signed(report.dhash)
    licence.delivered_at = utcnow()
    windows = report.windows or [(report.phash, report.dhash)]
    licence.window_hashes = [LicenceHash(phash=to_signed(p), dhash=to_signed(d)) for p, d in windows]
    # Nobody may register a platform output as their training image (training-image safeguard).
    register_output(windows, licence.style_id)
    db.session.flush()
    return licence


# --- certificates ----------------------------------------------------------------------------


def _delivered(stmt):
    return stmt.join(Generation, Generation.id == Licence.generation_id).where(
        Generation.status == "completed", Licence.sha256.is_not(None)
    )


def licence_url(version: str = CURRENT_TERMS_VERSION) -> str:
    """Where the licence terms (of ``version``) of generated images are published: the SPA's terms page."""
    config = current_app.config
    return config.get("LICENSE_TERMS_URL") or f"{config['PUBLIC_BASE_URL'].rstrip('/')}{terms_path(version)}"


def _visible_to(licence: Licence, viewer) -> bool:
    owner = viewer is not None and getattr(viewer, "is_authenticated", False) and viewer.id == licence.buyer_id
    return bool(licence.generation.is_public or owner)


def get_visible_licence(serial_text: str, viewer) -> Licence:
    """The licence behind a public serial, if its image was delivered and the viewer may see it:
    public images to everyone, private ones to their owner only. Anything else is NOT_FOUND (a
    private licence's existence is not revealed)."""
    serial = parse_serial(serial_text)
    if serial is None:
        raise NotFound("No such licence.")
    licence = db.session.scalar(
        _delivered(select(Licence)).where(Licence.serial == serial).options(selectinload(Licence.generation))
    )
    if licence is None or not _visible_to(licence, viewer):
        raise NotFound("No such licence.")
    return licence


def get_generation_licence(generation_id: int, viewer) -> Licence:
    """The licence of a generation, under the same visibility rules as :func:`get_visible_licence`."""
    licence = db.session.scalar(
        _delivered(select(Licence))
        .where(Licence.generation_id == generation_id)
        .options(selectinload(Licence.generation))
    )
    if licence is None or not _visible_to(licence, viewer):
        raise NotFound("No such licence.")
    return licence


def _terms(version: str) -> dict:
    summary = terms_summary(version) or {
        "version": version,
        "effective": "",
        "document": "",
        "permissions": [],
        "requirements": [],
        "prohibitions": [],
    }
    return {**summary, "url": licence_url(version)}


def serialize_certificate(licence: Licence) -> dict[str, Any]:
    """The certificate: what the licensee may do, who the artist is, the thumbnail, the file's hash.
    Never the full-size image."""
    generation = licence.generation
    return {
        "serial": format_serial(licence.serial),
        "status": "valid",
        "issued_at": iso(licence.delivered_at),
        "terms": _terms(licence.terms_version),
        "artist": {"id": licence.artist_id, "name": licence.artist_name},
        "style": {"id": licence.style_id, "name": licence.style_title},
        "generation_id": licence.generation_id,
        "licensed_to": licence.licensee_name or None,  # as at issue time, not today's username
        "is_public": generation.is_public,
        # A private image's certificate reaches only its owner: its picture through a signed URL.
        "thumbnail_url": file_url(generation, generation.thumbnail_key),
        "sha256": licence.sha256,
        "certificate_url": certificate_url(licence.serial),
    }


# --- verification ----------------------------------------------------------------------------


def _env() -> dict[str, str | None]:
    """The provenance settings: the app's config first (tests), then the process environment."""
    config = current_app.config
    return {
        "STYLELICENSE_ENV": config.get("ENV_NAME"),
        "INTERNAL_API_TOKEN": config.get("INTERNAL_API_TOKEN"),
        "WATERMARK_KEY": config.get("WATERMARK_KEY") or os.environ.get("WATERMARK_KEY"),
        "C2PA_TRUST_ANCHORS_PATH": config.get("C2PA_TRUST_ANCHORS_PATH") or os.environ.get("C2PA_TRUST_ANCHORS_PATH"),
    }


def decode_upload(data: bytes) -> Image.Image:
    """Decode a file to verify: JPEG, PNG or WebP (copies are shared as all three), one frame, at most
    MAX_VERIFY_PIXELS (read from the header, before any decode), at least 64 px a side. A JPEG far
    larger than any generation is decoded reduced (1/2–1/8, still ≥ the largest generation side).
    Raises INVALID_IMAGE_FORMAT / IMAGE_SIZE_EXCEEDED."""
    if len(data) > MAX_VERIFY_BYTES:
        raise ImageSizeExceeded(
            f"image: the file is larger than {MAX_VERIFY_BYTES // (1024 * 1024)} MB.",
            details={"field": "image", "max_bytes": MAX_VERIFY_BYTES},
        )
    details = {"field": "image"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as probe:
                if probe.width * probe.height > MAX_VERIFY_PIXELS:
                    raise too_many_pixels("image", details, MAX_VERIFY_PIXELS, probe.width, probe.height)
                if getattr(probe, "n_frames", 1) > 1:
                    raise InvalidImageFormat(
                        "image: animated images are not accepted.", details={**details, "reason": "multi_frame"}
                    )
                if probe.format == "JPEG" and min(probe.size) >= 2 * _DRAFT_SIDE:
                    # DCT scaling: the largest 1/2–1/8 reduction whose short side stays ≥ _DRAFT_SIDE.
                    scale = _DRAFT_SIDE / min(probe.size)
                    probe.draft("RGB", (max(1, int(probe.width * scale)), max(1, int(probe.height * scale))))
                probe.load()
                image = probe.convert("RGB")
    except InvalidImageFormat:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels("image", details, MAX_VERIFY_PIXELS) from None
    except UnidentifiedImageError:
        raise InvalidImageFormat(
            "image: only JPG, PNG or WebP images can be verified.", details={**details, "reason": "unsupported"}
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImageFormat(
            "image: the image is damaged or truncated.", details={**details, "reason": "corrupt"}
        ) from None
    if min(image.size) < MIN_VERIFY_SIDE:
        raise InvalidImageFormat(
            f"image: at least {MIN_VERIFY_SIDE}×{MIN_VERIFY_SIDE} pixels are needed.",
            details={**details, "reason": "too_small"},
        )
    return image


def _lookup_by_serial(serial: int) -> dict | None:
    licence = db.session.scalar(_delivered(select(Licence)).where(Licence.serial == serial))
    if licence is None:
        return None
    return {"sha256": licence.sha256, "licence_id": licence.id}


def _shortlist_rows(phash: int, dhash: int) -> list[tuple[int, int]]:
    """``(serial, distance)`` of the delivered licences nearest by perceptual hash (best window)."""
    limit, cap = verification.SHORTLIST_SIZE, verification.SHORTLIST_MAX_DISTANCE
    joined = _delivered(
        select(Licence.serial, LicenceHash.phash, LicenceHash.dhash).join(
            LicenceHash, LicenceHash.licence_id == Licence.id
        )
    )
    if db.engine.dialect.name == "postgresql":

        def bits(column, value):
            return func.bit_count(cast(column.op("#")(literal(to_signed(value), BigInteger)), BIT(64)))

        best = func.min(func.least(bits(LicenceHash.phash, phash), bits(LicenceHash.dhash, dhash))).label("distance")
        stmt = (
            _delivered(select(Licence.serial, best).join(LicenceHash, LicenceHash.licence_id == Licence.id))
            .group_by(Licence.id, Licence.serial)
            .having(best <= cap)
            .order_by(best, Licence.id)
            .limit(limit)
        )
        return [(serial, int(distance)) for serial, distance in db.session.execute(stmt).all()]
    # Other databases (the local SQLite default): the same ranking in Python.
    rows = db.session.execute(joined).all()
    return verification.shortlist(((s, from_signed(p), from_signed(d)) for s, p, d in rows), phash, dhash)


def _candidates(phash: int, dhash: int):
    storage = get_storage()
    for serial, distance in _shortlist_rows(phash, dhash):
        row = db.session.execute(
            select(Generation.result_key, Generation.is_public)
            .join(Licence, Licence.generation_id == Generation.id)
            .where(Licence.serial == serial)
        ).first()
        if row is None or not row.result_key:
            continue

        def load(key=row.result_key, public=row.is_public) -> Image.Image:
            with Image.open(io.BytesIO(storage.get(key, public=public))) as stored:
                return stored.convert("RGB")

        yield verification.Candidate(serial=serial, distance=distance, load_image=load)


def verify_file(data: bytes, image: Image.Image | None = None) -> tuple[verification.Verdict, Licence | None]:
    """Run the verification order on a file against every delivered licence (full detail)."""
    env = _env()
    verdict = verification.verify_image(
        data,
        key=keys.watermark_key(env),
        lookup_by_serial=_lookup_by_serial,
        candidates_by_hash=_candidates,
        trust_anchors_pem=keys.trust_anchors(env),
        image=image if image is not None else decode_upload(data),
    )
    licence = None
    if verdict.record is not None:
        licence = db.session.get(Licence, verdict.record["licence_id"], options=[selectinload(Licence.generation)])
    return verdict, licence


def verify_upload(data: bytes, viewer) -> dict[str, Any]:
    """``POST /api/verify``: the verdict, and the licence when the caller may see its certificate.

    Anonymous callers get the verdict, the confidence and (for a public licence) who and what it is;
    signed-in callers also get how it was found and what the C2PA manifest said. A private licence
    of someone else is only acknowledged (``private_licence``). The stored original is never returned.
    """
    image = decode_upload(data)
    verdict, licence = verify_file(data, image)
    signed_in = viewer is not None and getattr(viewer, "is_authenticated", False)
    visible = licence is not None and _visible_to(licence, viewer)
    out: dict[str, Any] = {
        "verdict": verdict.verdict,
        "confidence": round(verdict.confidence, 4),
        "licence": None,
        "private_licence": licence is not None and not visible,
    }
    if visible:
        out["licence"] = {
            "serial": format_serial(licence.serial),
            "certificate_url": certificate_url(licence.serial),
            "artist": {"id": licence.artist_id, "name": licence.artist_name},
            "style": {"id": licence.style_id, "name": licence.style_title},
            "terms_version": licence.terms_version,
        }
    if signed_in:
        out["method"] = verdict.method
        out["c2pa"] = verdict.c2pa
    return out
