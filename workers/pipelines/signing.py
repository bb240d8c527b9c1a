"""Output stage: visible artist signature (signature_stamp.py), licence metadata, encoding, thumbnails (Pillow only).

Order matters (NOTES §8): stamp the signature, then write the metadata, then encode. Everything stays
in memory: the unsigned image is never written anywhere.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from .signature_stamp import signature_box, stamp_signature

__all__ = [
    "ImageLicense",
    "encode_signed_png",
    "make_thumbnail",
    "read_metadata",
    "sign_output",
    "signature_box",
    "stamp_signature",
]

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE = "Style License"
XMP_KEY = "XML:com.adobe.xmp"
# Our own XMP namespace for platform ids (the standard schemas have no slot for them).
STYLELICENSE_NS = "urn:stylelicense:xmp:1.0/"
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "stylelicense": STYLELICENSE_NS,
}
_EXIF_TAGS = {"ImageDescription": 0x010E, "Software": 0x0131, "Artist": 0x013B, "Copyright": 0x8298}
_MAX_XMP_BYTES = 1 << 20

# ------------------------------------------------------------------------------------------------
# Licence metadata
# ------------------------------------------------------------------------------------------------


@dataclass
class ImageLicense:
    """What a generated image carries about its origin and licence."""

    artist_name: str
    style_title: str
    style_id: str
    generation_id: str
    licence_url: str
    licence_serial: str | None = None
    buyer: str | None = None
    created_at: str | None = None  # ISO 8601

    @property
    def year(self) -> str | None:
        return self.created_at[:4] if self.created_at and self.created_at[:4].isdigit() else None

    @property
    def rights(self) -> str:
        """The copyright line."""
        year = f" {self.year}" if self.year else ""
        return f"©{year} {self.artist_name}. Licensed through Style License: {self.licence_url}"

    @property
    def description(self) -> str:
        return f"AI-generated image in the style '{self.style_title}' by {self.artist_name}."

    @property
    def usage_terms(self) -> str:
        terms = f"Use is governed by the licence at {self.licence_url}"
        if self.licence_serial:
            terms += f" (licence {self.licence_serial}"
            terms += f", licensed to {self.buyer})" if self.buyer else ")"
        return terms + "."


def build_xmp(lic: ImageLicense) -> str:
    """The XMP packet (IPTC + xmpRights + PLUS + our ids) for ``lic``."""

    def alt(value: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>'

    attrs = {
        "Iptc4xmpExt:DigitalSourceType": DIGITAL_SOURCE_TYPE,
        "xmpRights:Marked": "True",
        "xmpRights:WebStatement": lic.licence_url,
        "xmp:CreatorTool": SOFTWARE,
        "stylelicense:GenerationId": lic.generation_id,
        "stylelicense:StyleId": lic.style_id,
        "stylelicense:StyleTitle": lic.style_title,
    }
    if lic.created_at:
        attrs["xmp:CreateDate"] = lic.created_at
    if lic.licence_serial:
        attrs["stylelicense:LicenceSerial"] = lic.licence_serial
    if lic.buyer:
        attrs["stylelicense:Licensee"] = lic.buyer
    ns_decl = " ".join(f"xmlns:{p}={quoteattr(u)}" for p, u in _NS.items() if p not in ("x", "rdf"))
    attr_xml = "\n    ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{_NS["x"]}">\n'
        f' <rdf:RDF xmlns:rdf="{_NS["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" {ns_decl}\n    {attr_xml}>\n'
        f"   <dc:creator><rdf:Seq><rdf:li>{escape(lic.artist_name)}</rdf:li></rdf:Seq></dc:creator>\n"
        f"   <dc:rights>{alt(lic.rights)}</dc:rights>\n"
        f"   <dc:description>{alt(lic.description)}</dc:description>\n"
        f"   <xmpRights:UsageTerms>{alt(lic.usage_terms)}</xmpRights:UsageTerms>\n"
        '   <plus:Licensor><rdf:Seq><rdf:li rdf:parseType="Resource">'
        f"<plus:LicensorName>{escape(lic.artist_name)}</plus:LicensorName>"
        f"<plus:LicensorURL>{escape(lic.licence_url)}</plus:LicensorURL>"
        "</rdf:li></rdf:Seq></plus:Licensor>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _png_text(lic: ImageLicense) -> dict[str, str]:
    text = {
        "Artist": lic.artist_name,
        "Copyright": lic.rights,
        "Description": lic.description,
        "Source": f"{SOFTWARE} (style '{lic.style_title}')",
        "Software": SOFTWARE,
        "StyleLicense:GenerationId": lic.generation_id,
        "StyleLicense:StyleId": lic.style_id,
        "StyleLicense:LicenseUrl": lic.licence_url,
    }
    if lic.licence_serial:
        text["StyleLicense:LicenseSerial"] = lic.licence_serial
    return text


def _exif(lic: ImageLicense) -> Image.Exif:
    exif = Image.Exif()
    # EXIF ASCII fields: Pillow would turn non-ASCII str into '?', so write UTF-8 bytes (what
    # exiftool and browsers assume); read_metadata decodes them back.
    for name, value in (
        ("Artist", lic.artist_name),
        ("Copyright", lic.rights),
        ("ImageDescription", lic.description),
        ("Software", SOFTWARE),
    ):
        exif[_EXIF_TAGS[name]] = value.encode("utf-8")
    return exif


def encode_signed_png(image: Image.Image, lic: ImageLicense) -> bytes:
    """Encode ``image`` (already stamped) as PNG with XMP (iTXt ``XML:com.adobe.xmp``), text chunks
    and EXIF carrying the licence."""
    info = PngInfo()
    # Uncompressed iTXt, as the XMP spec asks for PNG, so simple scanners can find the packet.
    info.add_itxt(XMP_KEY, build_xmp(lic), zip=False)
    for key, value in _png_text(lic).items():
        info.add_text(key, value)  # falls back to iTXt (UTF-8) for non-Latin-1 values
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", pnginfo=info, exif=_exif(lic), compress_level=6)
    return buf.getvalue()


def _utf8(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(value, str):
        try:  # UTF-8 bytes that Pillow decoded as Latin-1
            return value.encode("latin-1").decode("utf-8").rstrip("\x00")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value.rstrip("\x00")
    return value


def parse_xmp(xmp: str | bytes) -> dict[str, object]:
    """The fields :func:`build_xmp` writes, read from any XMP packet (missing ones are absent)."""
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    if len(xmp) > _MAX_XMP_BYTES:
        return {}
    start, end = xmp.find("<x:xmpmeta"), xmp.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        return {}
    try:
        root = ET.fromstring(xmp[start : end + len("</x:xmpmeta>")])
    except ET.ParseError:
        return {}

    def q(name: str) -> str:
        prefix, local = name.split(":")
        return f"{{{_NS[prefix]}}}{local}"

    out: dict[str, object] = {}
    attr_fields = {
        "digital_source_type": "Iptc4xmpExt:DigitalSourceType",
        "marked": "xmpRights:Marked",
        "web_statement": "xmpRights:WebStatement",
        "creator_tool": "xmp:CreatorTool",
        "created_at": "xmp:CreateDate",
        "generation_id": "stylelicense:GenerationId",
        "style_id": "stylelicense:StyleId",
        "style_title": "stylelicense:StyleTitle",
        "licence_serial": "stylelicense:LicenceSerial",
        "licensee": "stylelicense:Licensee",
    }
    for desc in root.iter(q("rdf:Description")):
        for key, name in attr_fields.items():
            value = desc.get(q(name))
            if value is None:  # the element form is equally valid XMP
                element = desc.find(q(name))
                value = element.text if element is not None else None
            if value is not None:
                out[key] = value
        creators = desc.findall(f"{q('dc:creator')}//{q('rdf:li')}")
        if creators:
            out["creator"] = [c.text or "" for c in creators]
        for key, name in (
            ("rights", "dc:rights"),
            ("description", "dc:description"),
            ("usage_terms", "xmpRights:UsageTerms"),
        ):
            li = desc.find(f"{q(name)}//{q('rdf:li')}")
            if li is not None:
                out[key] = li.text or ""
        licensor = desc.find(f"{q('plus:Licensor')}//{q('rdf:li')}")
        if licensor is not None:
            out["licensor"] = {
                "name": licensor.findtext(q("plus:LicensorName")),
                "url": licensor.findtext(q("plus:LicensorURL")),
            }
    if "marked" in out:
        out["marked"] = str(out["marked"]).lower() == "true"
    return out


def read_metadata(data: bytes) -> dict:
    """Read back the licence metadata of a PNG, JPEG or WebP produced here (or anything else).

    Returns ``{"format", "size", "text", "exif", "xmp", "xmp_raw"}``: ``text`` holds PNG text chunks
    (without the XMP one), ``exif`` the Artist/Copyright/ImageDescription/Software tags, ``xmp`` the
    parsed fields (``digital_source_type``, ``creator``, ``rights``, ``web_statement``, ``usage_terms``,
    ``marked``, ``licensor``, ``generation_id``, ``style_id``…). Pixels are not decoded.
    """
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format
        size = im.size
        info = dict(im.info)
        text = {k: str(v) for k, v in getattr(im, "text", {}).items() if k != XMP_KEY}
        raw_exif = im.getexif()
        exif = {name: _utf8(raw_exif[tag]) for name, tag in _EXIF_TAGS.items() if tag in raw_exif}
    xmp_raw = info.get(XMP_KEY) or info.get("xmp") or ""
    if isinstance(xmp_raw, bytes):
        xmp_raw = xmp_raw.decode("utf-8", "replace")
    return {
        "format": fmt,
        "size": size,
        "text": text,
        "exif": exif,
        "xmp": parse_xmp(xmp_raw) if xmp_raw else {},
        "xmp_raw": xmp_raw,
    }


# ------------------------------------------------------------------------------------------------
# Thumbnails and the whole output stage
# ------------------------------------------------------------------------------------------------


def make_thumbnail(image: Image.Image, max_side: int = 512, *, lic: ImageLicense | None = None) -> bytes:
    """WebP (quality 80) no larger than ``max_side`` on its long side, aspect kept.

    With ``lic`` the thumbnail carries the same XMP and EXIF as the full image.
    """
    thumb = image.convert("RGB")
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    extra: dict[str, object] = {}
    if lic is not None:
        extra = {"xmp": build_xmp(lic).encode("utf-8"), "exif": _exif(lic)}
    thumb.save(buf, format="WEBP", quality=80, method=4, **extra)
    return buf.getvalue()


def make_square_thumbnail(image: Image.Image, size: int = 256) -> bytes:
    """A centre-cropped ``size``×``size`` JPEG (quality 85) for style listings."""
    square = ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    square.save(buf, format="JPEG", quality=85, optimize=True)
    return buf.getvalue()


def sign_output(
    image: Image.Image, *, signature: Image.Image | None, lic: ImageLicense, seed: int
) -> tuple[bytes, bytes]:
    """The whole output stage: stamp → metadata → encode. Returns (signed PNG, WebP thumbnail),
    both made from the stamped image and both carrying the licence metadata."""
    stamped = stamp_signature(image, signature=signature, artist_name=lic.artist_name, seed=seed)
    return encode_signed_png(stamped, lic), make_thumbnail(stamped, lic=lic)
