"""The provenance part of the inference worker's output stage (after the visible signature, before
anything is stored)::

    invisible watermark (serial + keyed tag) → XMP/IPTC/EXIF rights metadata → C2PA manifest (last)

The building blocks live in :mod:`stylelicense.provenance` (pure Python, no Flask), because the API's
verify endpoint reads the same marks and manifests; :mod:`stylelicense.provenance.verification`
checks copies against what this stage wrote.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from PIL import Image

from stylelicense.provenance import c2pa_manifest, hashes, keys, watermark
from stylelicense.provenance.serials import format_serial
from workers.pipelines.signing import ImageLicense, encode_signed_png, make_thumbnail, stamp_signature


@dataclass(frozen=True)
class ProvenanceRecord:
    """What the licence row stores about one output."""

    serial: int
    sha256: str
    phash: int  # unsigned 64-bit
    dhash: int
    windows: tuple[tuple[int, int], ...] = ()  # (phash, dhash) of the sub-windows that find crops

    def as_dict(self) -> dict:
        return {
            "serial": self.serial,
            "sha256": self.sha256,
            "phash": self.phash,
            "dhash": self.dhash,
            "windows": [list(pair) for pair in self.windows],
        }


def _image_licence(licence: dict, serial: int) -> ImageLicense:
    # ImageLicense keeps ``licence_url`` (the terms); the certificate URL goes into the C2PA manifest.
    return ImageLicense(
        artist_name=licence["artist_name"],
        style_title=licence["style_title"],
        style_id=str(licence["style_id"]),
        generation_id=str(licence["generation_id"]),
        licence_url=licence["licence_url"],
        licence_serial=format_serial(serial),
        buyer=licence.get("buyer"),
        created_at=licence.get("created_at"),
    )


def apply_provenance(
    signed_image: Image.Image,
    *,
    serial: int,
    licence: dict,
    key: bytes,
    c2pa_chain: bytes | None,
    c2pa_key: bytes | None,
) -> tuple[bytes, ProvenanceRecord]:
    """Watermark, describe and sign an image that already carries the visible signature.

    ``licence``: ``artist_name``, ``style_title``, ``style_id``, ``generation_id``, ``licence_url``,
    ``terms_version`` and optionally ``buyer``, ``created_at`` (ISO 8601), ``certificate_url``.
    Without a C2PA chain (development only; :func:`stylelicense.provenance.keys.signing_material`
    refuses that in production) the file is delivered without a manifest. Returns the final PNG and
    the record to store (hashes of exactly these bytes and pixels).
    """
    marked = watermark.embed_serial(signed_image, serial, key)
    lic = _image_licence(licence, serial)
    png = encode_signed_png(marked, lic)
    if c2pa_chain is None or c2pa_key is None:
        return png, _record(serial, png, marked)
    final = c2pa_manifest.sign_c2pa(
        png,
        manifest_info={
            "title": f"{lic.licence_serial}.png",
            "artist": lic.artist_name,
            "licence_serial": lic.licence_serial,
            "licence_url": lic.licence_url,
            "terms_version": licence["terms_version"],
            "style_title": lic.style_title,
            "style_id": lic.style_id,
            "generation_id": lic.generation_id,
            "created_at": lic.created_at,
            "certificate_url": licence.get("certificate_url"),
            "watermark_alg": watermark.watermarker_for_key(watermark.normalize_key(key)).name,
        },
        cert_chain_pem=c2pa_chain,
        private_key_pem=c2pa_key,
    )
    return final, _record(serial, final, marked)


def _record(serial: int, data: bytes, pixels: Image.Image) -> ProvenanceRecord:
    windows = hashes.window_hashes(pixels)
    return ProvenanceRecord(
        serial=serial,
        sha256=hashes.sha256_hex(data),
        phash=windows[0][0],
        dhash=windows[0][1],
        windows=tuple(windows),
    )


DISPLAY_MAX_SIDE = 1024
DISPLAY_QUALITY = 80


def display_copy(signed_png: bytes, *, max_side: int = DISPLAY_MAX_SIDE, quality: int = DISPLAY_QUALITY) -> bytes:
    """The web-sized copy pages show (WebP, a fraction of the PNG's bytes), made from the signed PNG
    so it carries the visible signature and the invisible mark, and the same XMP rights metadata.
    The signed PNG stays the download (its C2PA manifest and hashes are the licensed original)."""
    with Image.open(io.BytesIO(signed_png)) as source:
        xmp = source.info.get("XML:com.adobe.xmp")
        image = source.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    options = {"xmp": xmp.encode() if isinstance(xmp, str) else xmp} if xmp else {}
    image.save(buffer, "WEBP", quality=quality, method=4, **options)
    return buffer.getvalue()


def finish_output(
    image: Image.Image,
    *,
    signature: Image.Image | None,
    lic: ImageLicense,
    seed: int,
    serial: int,
    terms_version: str,
    certificate_url: str | None = None,
    env: Mapping[str, str | None] | None = None,
) -> tuple[bytes, bytes, dict]:
    """The worker's whole output stage: visible signature → :func:`apply_provenance` → thumbnail.

    Returns ``(final PNG, WebP thumbnail, provenance report)``; the report (serial, hashes, whether a
    C2PA manifest was written) goes to the API with the complete webhook. Keys come from ``env``
    (default: the process environment; see :mod:`stylelicense.provenance.keys`).
    """
    env = os.environ if env is None else env
    key = keys.watermark_key(env)
    material = keys.signing_material(env)
    stamped = stamp_signature(image, signature=signature, artist_name=lic.artist_name, seed=seed)
    licence = {**asdict(lic), "terms_version": terms_version, "certificate_url": certificate_url}
    png, record = apply_provenance(
        stamped,
        serial=serial,
        licence=licence,
        key=key,
        c2pa_chain=material[0] if material else None,
        c2pa_key=material[1] if material else None,
    )
    with Image.open(io.BytesIO(png)) as final:
        thumbnail = make_thumbnail(final.convert("RGB"), lic=replace(lic, licence_serial=format_serial(serial)))
    return png, thumbnail, {**record.as_dict(), "c2pa": material is not None}
