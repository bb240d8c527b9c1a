"""Rights reservations against AI training embedded in an image (no Flask; used before an upload
is stored as a training image).

Two standards carry them:

- IPTC / PLUS ``plus:DataMining`` in the XMP packet (PNG ``iTXt``/``zTXt`` ``XML:com.adobe.xmp``,
  JPEG APP1 ``http://ns.adobe.com/xap/1.0/``, WebP ``XMP `` chunk). Every ``DMI-PROHIBITED…`` value
  forbids mining for AI/ML training: outright, for (generative) AI/ML training, everything except
  search-engine indexing, or "see constraint/rights expression" (which we cannot evaluate, so the
  reservation stands). ``DMI-ALLOWED`` and ``DMI-UNSPECIFIED`` do not reserve.
- C2PA ``c2pa.training-mining`` (also ``cawg.training-mining``) assertions: any training or data
  mining entry whose ``use`` is ``notAllowed``. Honoured even when the manifest's signature does not
  validate: the right holder's stated wish is what counts, not who vouches for it.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from dataclasses import dataclass

import c2pa

_XMP_PNG_KEYWORD = b"XML:com.adobe.xmp"
_XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_MAX_XMP = 4 * 1024 * 1024
# plus:DataMining as an attribute, an element's text or an rdf:resource (any namespace prefix).
_DATA_MINING = re.compile(
    r"""DataMining\s*=\s*["']([^"']*)["']"""
    r"""|DataMining[^>]*?rdf:resource\s*=\s*["']([^"']*)["']"""
    r"""|DataMining[^>/]*>\s*([^<]+?)\s*<""",
    re.IGNORECASE,
)
_TRAINING_LABELS = ("c2pa.training-mining", "cawg.training-mining")


@dataclass(frozen=True)
class Reservation:
    """Why an image may not be trained on: ``standard`` (``xmp`` or ``c2pa``) and the value found."""

    standard: str
    value: str


def _png_xmp(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"iTXt" and body.startswith(_XMP_PNG_KEYWORD + b"\x00"):
            rest = body[len(_XMP_PNG_KEYWORD) + 1 :]
            compressed = rest[:1] == b"\x01"
            # compression flag, method, language tag\0, translated keyword\0, text
            text = rest[2:].split(b"\x00", 2)[-1]
            out.append(zlib.decompressobj().decompress(text, _MAX_XMP) if compressed else text)
        elif kind == b"zTXt" and body.startswith(_XMP_PNG_KEYWORD + b"\x00"):
            out.append(zlib.decompressobj().decompress(body[len(_XMP_PNG_KEYWORD) + 2 :], _MAX_XMP))
        elif kind == b"IEND":
            break
    return out


def _jpeg_xmp(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no more metadata segments
            break
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(_XMP_JPEG_HEADER):
            out.append(segment[len(_XMP_JPEG_HEADER) :])
        pos += 2 + length
    return out


def _webp_xmp(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if kind == b"XMP ":
            out.append(data[pos + 8 : pos + 8 + length])
        pos += 8 + length + (length & 1)
    return out


def xmp_packets(data: bytes) -> list[str]:
    """The XMP packets embedded in a PNG, JPEG or WebP file (decoded as UTF-8, errors replaced)."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            raw = _png_xmp(data)
        elif data.startswith(b"\xff\xd8"):
            raw = _jpeg_xmp(data)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            raw = _webp_xmp(data)
        else:
            raw = []
    except (struct.error, zlib.error):
        raw = []
    return [packet[:_MAX_XMP].decode("utf-8", "replace") for packet in raw]


def xmp_reservation(data: bytes) -> Reservation | None:
    """The first ``plus:DataMining`` value that prohibits AI/ML training, or None."""
    for packet in xmp_packets(data):
        for match in _DATA_MINING.finditer(packet):
            value = next(group for group in match.groups() if group is not None).strip()
            if "DMI-PROHIBITED" in value.upper():
                return Reservation("xmp", value.rsplit("/", 1)[-1])
    return None


def c2pa_reservation(data: bytes) -> Reservation | None:
    """The first training/mining entry marked ``notAllowed`` in the file's C2PA manifests, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8"):
        mime = "image/jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    else:
        return None
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data))
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except (c2pa.C2paError, ValueError):
        return None
    for manifest in (store.get("manifests") or {}).values():
        for assertion in manifest.get("assertions") or []:
            if assertion.get("label", "").split("__")[0] not in _TRAINING_LABELS:
                continue
            entries = (assertion.get("data") or {}).get("entries") or {}
            for name, entry in entries.items():
                if ("training" in name or "mining" in name) and (entry or {}).get("use") == "notAllowed":
                    return Reservation("c2pa", name)
    return None


def find_reservation(data: bytes) -> Reservation | None:
    """The file's reservation against AI training (XMP first: it needs no manifest parsing), or None."""
    return xmp_reservation(data) or c2pa_reservation(data)
