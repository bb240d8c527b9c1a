"""Output stage: visible artist signature, licence metadata, encoding, thumbnails (Pillow only).

Order matters (NOTES §8): stamp the signature, then write the metadata, then encode. Everything stays
in memory: the unsigned image is never written anywhere.
"""

from __future__ import annotations

import io
import os
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat
from PIL.PngImagePlugin import PngInfo

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE = "Style License"
XMP_KEY = "XML:com.adobe.xmp"
# Our own XMP namespace for platform ids (the standard schemas have no slot for them).
STYLELICENSE_NS = "urn:stylelicense:xmp:1.0/"
# A TrueType font with wider script coverage (e.g. Noto Sans CJK) for names Pillow's default font lacks.
_FONT_ENV = "STYLELICENSE_SIGNATURE_FONT"
_SYSTEM_FONTS = [  # Debian/Ubuntu fonts-noto-cjk and fonts-nanum
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
]

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

# Signature geometry, relative to the image's short side (NOTES §8).
SIGNATURE_WIDTH = 0.22
SIGNATURE_MIN_WIDTH = 96
SIGNATURE_INSET = 0.035
SIGNATURE_OPACITY = 0.85
_SIGNATURE_ASPECT = 0.42  # box height / width; signatures are fitted inside it
_HALO_OPACITY = 0.55


# ------------------------------------------------------------------------------------------------
# Visible signature
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    box_w: int  # ink area before rotation
    box_h: int
    pad: int  # room around the ink for the halo
    angle: float
    x: int  # top-left of the rotated canvas in the image
    y: int
    w: int  # rotated canvas size
    h: int


@lru_cache(maxsize=256)
def _layout(width: int, height: int, seed: int) -> _Layout:
    """Where and how the signature goes. Deterministic in (size, seed); the per-image jitter of
    offset, scale and rotation keeps marks from being removable by aligning many images (Dekel et al.)."""
    short = min(width, height)
    # A string seed goes through SHA-512, so the jitter is stable across Python versions.
    rnd = random.Random(f"stylelicense-signature:{seed}")
    scale = rnd.uniform(0.92, 1.08)
    angle = rnd.uniform(-4.0, 4.0)
    jitter = 0.012 * short
    dx, dy = rnd.uniform(-jitter, jitter), rnd.uniform(-jitter, jitter)

    box_w = round(max(SIGNATURE_MIN_WIDTH, SIGNATURE_WIDTH * short) * scale)
    box_w = max(16, min(box_w, int(width * 0.6)))  # tiny images: keep it inside
    box_h = max(8, min(round(box_w * _SIGNATURE_ASPECT), int(height * 0.5)))
    pad = max(3, round(box_w * 0.05))
    canvas = (box_w + 2 * pad, box_h + 2 * pad)
    w, h = Image.new("L", canvas).rotate(angle, expand=True).size

    inset = SIGNATURE_INSET * short
    cx = width - inset + dx - box_w / 2
    cy = height - inset + dy - box_h / 2
    x = min(max(0, round(cx - w / 2)), max(0, width - w))
    y = min(max(0, round(cy - h / 2)), max(0, height - h))
    return _Layout(box_w, box_h, pad, angle, x, y, w, h)


def signature_box(width: int, height: int, seed: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the region the signature (with its halo) may occupy for an
    image of this size and this seed; everything outside it is left untouched."""
    lay = _layout(width, height, seed)
    return lay.x, lay.y, min(width, lay.x + lay.w), min(height, lay.y + lay.h)


def _load_font(size: int, text: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The configured font, else (for names beyond Latin) a system CJK font, else Pillow's default
    (Latin only: Hangul or kanji would come out as boxes)."""
    candidates = [os.environ.get(_FONT_ENV, "")]
    if any(ord(ch) > 0x24F for ch in text):
        candidates += _SYSTEM_FONTS
    for path in filter(None, candidates):
        try:
            return ImageFont.truetype(path, size=size)
        except OSError:
            continue  # missing or unreadable font: try the next one
    return ImageFont.load_default(size=size)


def _text_mask(text: str, box: tuple[int, int]) -> Image.Image:
    """The artist's name as an ink mask, as large as fits the box."""
    box_w, box_h = box
    size = max(8, round(box_h * 0.8))
    font = _load_font(size, text)
    left, top, right, bottom = font.getbbox(text)
    if right - left > box_w:  # long names: shrink to the box width
        size = max(8, int(size * box_w / (right - left)))
        font = _load_font(size, text)
        left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font)
    return mask


def _image_mask(signature: Image.Image) -> Image.Image:
    """An ink mask from an uploaded signature: its alpha if it has a real one, else its darkness on
    light paper (or lightness on dark paper); trimmed to the ink."""
    signature = ImageOps.exif_transpose(signature)
    mask = None
    if signature.mode in ("RGBA", "LA", "PA") or (signature.mode == "P" and "transparency" in signature.info):
        alpha = signature.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 250:  # not just an opaque alpha channel
            mask = alpha
    if mask is None:
        gray = signature.convert("L")
        mask = ImageOps.invert(gray) if ImageStat.Stat(gray).median[0] >= 128 else gray
        mask = ImageOps.autocontrast(mask)
        mask = mask.point(lambda v: 0 if v < 48 else v)  # paper grain is not ink
    bbox = mask.getbbox()
    return mask.crop(bbox) if bbox else mask


def _fit_bottom_right(mask: Image.Image, box: tuple[int, int]) -> Image.Image:
    box_w, box_h = box
    ratio = min(box_w / mask.width, box_h / mask.height)
    size = (max(1, round(mask.width * ratio)), max(1, round(mask.height * ratio)))
    fitted = mask.resize(size, Image.Resampling.LANCZOS)
    out = Image.new("L", box, 0)
    out.paste(fitted, (box_w - size[0], box_h - size[1]))
    return out


def stamp_signature(image: Image.Image, *, signature: Image.Image | None, artist_name: str, seed: int) -> Image.Image:
    """Return a copy of ``image`` (RGB) with the artist's visible signature in the bottom-right corner.

    ``signature`` is the artist's uploaded signature image; when None the artist's name is rendered as
    text. Size ≈22 % of the short side (≥96 px), inset ≈3.5 %, opacity 0.85, with a small seed-derived
    variation of offset/scale/rotation. The ink is dark or light depending on the background under it,
    with a soft halo of the opposite tone so it stays legible on busy images.
    """
    base = image.convert("RGB")
    lay = _layout(base.width, base.height, seed)
    box = (lay.box_w, lay.box_h)
    if signature is not None:
        ink = _fit_bottom_right(_image_mask(signature), box)
    else:
        ink = _fit_bottom_right(_text_mask(artist_name.strip() or "?", box), box)

    region = base.crop((lay.x, lay.y, lay.x + lay.w, lay.y + lay.h)).convert("L")
    bright = ImageStat.Stat(region).mean[0] >= 128
    ink_rgb, halo_rgb = ((24, 24, 24), (255, 255, 255)) if bright else ((245, 245, 245), (0, 0, 0))

    canvas_size = (lay.box_w + 2 * lay.pad, lay.box_h + 2 * lay.pad)
    ink_mask = Image.new("L", canvas_size, 0)
    ink_mask.paste(ink, (lay.pad, lay.pad))
    radius = max(1, lay.pad // 2)
    halo_mask = ink_mask.filter(ImageFilter.MaxFilter(2 * radius + 1)).filter(ImageFilter.GaussianBlur(radius))

    layer = Image.new("RGBA", canvas_size, (*halo_rgb, 0))
    layer.putalpha(halo_mask.point(lambda v: round(v * _HALO_OPACITY)))
    ink_layer = Image.new("RGBA", canvas_size, (*ink_rgb, 0))
    ink_layer.putalpha(ink_mask.point(lambda v: round(v * SIGNATURE_OPACITY)))
    layer = Image.alpha_composite(layer, ink_layer)
    layer = layer.rotate(lay.angle, resample=Image.Resampling.BICUBIC, expand=True)

    out = base.convert("RGBA")
    # The canvas may overhang a tiny image; crop it to what fits.
    layer = layer.crop((0, 0, min(layer.width, out.width - lay.x), min(layer.height, out.height - lay.y)))
    out.alpha_composite(layer, dest=(lay.x, lay.y))
    return out.convert("RGB")


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
