"""Training-image safeguards (SPEC §13), checked at ``POST /api/styles`` before anything is stored.

- A rights reservation against AI training in the file (XMP ``plus:DataMining``, C2PA
  ``c2pa.training-mining``; :mod:`stylelicense.provenance.reservations`) → 422 TRAINING_NOT_ALLOWED.
- A near-duplicate of another artist's training image, or of an image this platform generated
  → 409 IMAGE_ALREADY_REGISTERED. The same artist uploading their own images again is fine.

Near-duplicates are found by perceptual hash (pHash + dHash, 64 bits each). A registered image is
fingerprinted over nine windows (whole, and 4 % cut from one or two sides per axis), so an upload
that was re-encoded, resized or cropped by a few per cent lies within a few bits of one of them
(measured in bench/safeguard_bench.py). Lookups go through the indexed 16-bit bands of
:class:`ImageFingerprint` (candidates sharing a band), then the exact Hamming check — a few index
probes whatever the number of registered images. Operations flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageStat
from sqlalchemy import BigInteger, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import BIT

from ..errors import Conflict, ValidationError
from ..extensions import db
from ..provenance import hashes
from ..provenance.reservations import find_reservation
from .models import ImageFingerprint

# Per axis: the whole side, 4 % cut at the start, 4 % cut at the end; 3 × 3 windows.
WINDOW_AXIS = ((0.0, 1.0), (0.04, 1.0), (0.0, 0.96))
# pHash + dHash bits. Copies (re-encoded, resized, ≤ 5 % crops) measured ≤ 16; unrelated images ≥ 31.
MATCH_MAX_DISTANCE = 18
_BAND_SHIFTS = (48, 32, 16, 0)


class TrainingNotAllowed(ValidationError):
    """The image's embedded rights metadata reserves it from AI training."""

    status, code, message = 422, "TRAINING_NOT_ALLOWED", "This image is reserved from AI training by its rights holder."


class ImageAlreadyRegistered(Conflict):
    """The image is a near-duplicate of another artist's training image or of a platform output."""

    code, message = "IMAGE_ALREADY_REGISTERED", "This image is already registered on the platform."


@dataclass(frozen=True)
class Match:
    """A registered image an upload duplicates: ``source`` (``artwork``/``output``), its style, distance."""

    source: str
    style_id: int | None
    distance: int


@dataclass(frozen=True)
class UploadHashes:
    """Perceptual hashes of one upload: the whole picture (looked up) and its windows (registered)."""

    phash: int
    dhash: int
    windows: tuple[tuple[int, int], ...]
    # False for a (nearly) flat picture: it has no content anyone could own, and its hashes collide
    # with every other flat picture, so it is neither registered nor refused.
    informative: bool = True


def bands(value: int) -> list[int]:
    """The four 16-bit bands of a 64-bit hash (signed or unsigned form)."""
    unsigned = hashes.from_signed(value)
    return [(unsigned >> shift) & 0xFFFF for shift in _BAND_SHIFTS]


def fingerprint_windows(image: Image.Image) -> list[tuple[int, int]]:
    """``(phash, dhash)`` of the nine windows of :data:`WINDOW_AXIS` (whole image first)."""
    image = image.convert("RGB")
    width, height = image.size
    out = []
    for y0, y1 in WINDOW_AXIS:
        for x0, x1 in WINDOW_AXIS:
            window = image.crop((round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)))
            out.append((hashes.phash(window), hashes.dhash(window)))
    return out


HASH_SIDE = 256
MIN_SPREAD = 4.0  # grey-level standard deviation at 32 px below which a picture counts as flat


def hash_upload(image: Image.Image) -> UploadHashes:
    """Hash a decoded upload (once; the whole-image hash is the first window). Hashed from a copy
    that fits 256 px: the hashes look at 32 px anyway, and 18 hashes of a 40-megapixel original
    would cost seconds."""
    small = image.convert("RGB")
    small.thumbnail((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS)
    windows = tuple(fingerprint_windows(small))
    spread = ImageStat.Stat(small.convert("L").resize((32, 32), Image.Resampling.BILINEAR)).stddev[0]
    return UploadHashes(phash=windows[0][0], dhash=windows[0][1], windows=windows, informative=spread >= MIN_SPREAD)


def check_reservation(data: bytes, index: int) -> None:
    """Refuse an upload whose metadata reserves it from AI training (TRAINING_NOT_ALLOWED, 422)."""
    reservation = find_reservation(data)
    if reservation is not None:
        raise TrainingNotAllowed(
            details={
                "index": index,
                "field": f"images[{index}]",
                "standard": reservation.standard,
                "value": reservation.value,
            }
        )


def _bits(column, value: int):
    """PostgreSQL: the number of differing bits between a BIGINT hash column and ``value``."""
    return func.bit_count(cast(column.op("#")(literal(hashes.to_signed(value), BigInteger)), BIT(64)))


def find_registered(phash: int, dhash: int, artist_id: int | None = None) -> Match | None:
    """The nearest registered fingerprint within :data:`MATCH_MAX_DISTANCE` that is a platform output
    or another artist's training image (``artist_id``'s own images never match), or None.

    Candidates share at least one 16-bit band with the query (index probes); PostgreSQL then ranks
    them by Hamming distance itself, other databases (the local SQLite default) in Python."""
    p, d = bands(phash), bands(dhash)
    columns = (
        ImageFingerprint.p0,
        ImageFingerprint.p1,
        ImageFingerprint.p2,
        ImageFingerprint.p3,
        ImageFingerprint.d0,
        ImageFingerprint.d1,
        ImageFingerprint.d2,
        ImageFingerprint.d3,
    )
    where = [or_(*(column == value for column, value in zip(columns, p + d, strict=True)))]
    if artist_id is not None:
        where.append(or_(ImageFingerprint.artist_id.is_(None), ImageFingerprint.artist_id != artist_id))
    if db.engine.dialect.name == "postgresql":
        distance = (_bits(ImageFingerprint.phash, phash) + _bits(ImageFingerprint.dhash, dhash)).label("distance")
        row = db.session.execute(
            select(ImageFingerprint.source, ImageFingerprint.style_id, distance)
            .where(*where)
            .where(distance <= MATCH_MAX_DISTANCE)
            .order_by(distance)
            .limit(1)
        ).first()
        return Match(row.source, row.style_id, int(row.distance)) if row else None
    best: Match | None = None
    rows = db.session.execute(
        select(
            ImageFingerprint.source, ImageFingerprint.style_id, ImageFingerprint.phash, ImageFingerprint.dhash
        ).where(*where)
    )
    for source, style_id, other_p, other_d in rows:
        distance = hashes.hamming(phash, other_p) + hashes.hamming(dhash, other_d)
        if distance <= MATCH_MAX_DISTANCE and (best is None or distance < best.distance):
            best = Match(source, style_id, distance)
    return best


def check_not_registered(upload: UploadHashes, index: int, artist_id: int) -> None:
    """Refuse a near-duplicate of another artist's training image or of a platform output (409)."""
    if not upload.informative:
        return
    match = find_registered(upload.phash, upload.dhash, artist_id)
    if match is not None:
        raise ImageAlreadyRegistered(
            details={"index": index, "field": f"images[{index}]", "registered_as": match.source}
        )


def _row(source: str, phash: int, dhash: int, artist_id: int | None, style_id: int | None) -> ImageFingerprint:
    p, d = bands(phash), bands(dhash)
    return ImageFingerprint(
        source=source,
        artist_id=artist_id,
        style_id=style_id,
        phash=hashes.to_signed(phash),
        dhash=hashes.to_signed(dhash),
        p0=p[0],
        p1=p[1],
        p2=p[2],
        p3=p[3],
        d0=d[0],
        d1=d[1],
        d2=d[2],
        d3=d[3],
    )


def register_artworks(uploads: Iterable[UploadHashes], artist_id: int, style_id: int) -> None:
    """Register a new style's training images (every window) so other artists cannot reuse them."""
    db.session.add_all(
        [
            _row("artwork", p, d, artist_id, style_id)
            for upload in uploads
            if upload.informative
            for p, d in upload.windows
        ]
    )


def register_output(windows: Iterable[tuple[int, int]], style_id: int | None = None) -> None:
    """Register an image this platform generated (its window hashes): nobody may train on it."""
    db.session.add_all([_row("output", p, d, None, style_id) for p, d in windows])
