"""The provenance part of the inference worker's output stage (after the visible signature, before
anything is stored)::

    invisible watermark (serial + keyed tag) → XMP/IPTC/EXIF rights metadata → C2PA manifest (last)

The building blocks live in :mod:`stylelicense.provenance` (pure Python, no Flask), because the API's
verify endpoint reads the same marks and manifests; :mod:`stylelicense.provenance.verification`
checks copies against what this stage wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from stylelicense.provenance import c2pa_manifest, hashes, watermark
from stylelicense.provenance.serials import format_serial
from workers.pipelines.signing import ImageLicense, encode_signed_png


@dataclass(frozen=True)
class ProvenanceRecord:
    """What the licence row stores about one output."""

    serial: int
    sha256: str
    phash: int  # unsigned 64-bit
    dhash: int

    def as_dict(self) -> dict:
        return {"serial": self.serial, "sha256": self.sha256, "phash": self.phash, "dhash": self.dhash}


def _image_licence(licence: dict, serial: int) -> ImageLicense:
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
    c2pa_chain: bytes,
    c2pa_key: bytes,
) -> tuple[bytes, ProvenanceRecord]:
    """Watermark, describe and sign an image that already carries the visible signature.

    ``licence``: ``artist_name``, ``style_title``, ``style_id``, ``generation_id``, ``licence_url``,
    ``terms_version`` and optionally ``buyer``, ``created_at`` (ISO 8601). Returns the final PNG and
    the record to store (hashes of exactly these bytes and pixels).
    """
    marked = watermark.embed_serial(signed_image, serial, key)
    lic = _image_licence(licence, serial)
    png = encode_signed_png(marked, lic)
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
            "watermark_alg": watermark.watermarker_for_key(watermark.normalize_key(key)).name,
        },
        cert_chain_pem=c2pa_chain,
        private_key_pem=c2pa_key,
    )
    record = ProvenanceRecord(
        serial=serial, sha256=hashes.sha256_hex(final), phash=hashes.phash(marked), dhash=hashes.dhash(marked)
    )
    return final, record
