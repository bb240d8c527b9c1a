"""Upload checks by content (never by file name or client content type).

Used for training images, signatures and profile pictures: real decode with Pillow restricted to
JPEG/PNG, decompression bombs and multi-frame files refused, EXIF orientation applied, colours moved
to sRGB, then re-encoded with none of the uploader's metadata: no EXIF (GPS, camera, names), XMP,
ICC profile, JPEG comment or APPn segment, PNG text or unknown chunk reaches a file we store.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .errors import ImageSizeExceeded, InvalidImageFormat

# A file of a few kB can decode to gigabytes: every use has its own pixel cap, far below what a
# decode costs. The header is probed (no decode) against it first. Published by GET /api/config.
MAX_PROFILE_IMAGE_PIXELS = 4_000_000  # stored shrunk to 512 px
MAX_SIGNATURE_PIXELS = 4_000_000  # stored shrunk to 1024 px at most
MAX_STYLE_IMAGE_PIXELS = 16_000_000  # training uses a 512-px copy; 16 Mpx is a 4900×3265 photo
MAX_VERIFY_PIXELS = 16_000_000  # generations are ≤ 1024 px; a bigger copy is decoded reduced anyway
MAX_PIXELS = max(MAX_PROFILE_IMAGE_PIXELS, MAX_SIGNATURE_PIXELS, MAX_STYLE_IMAGE_PIXELS, MAX_VERIFY_PIXELS)
# Pillow itself warns above this and refuses above twice this, wherever an image is opened.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass
class CheckedImage:
    image: Image.Image  # decoded, orientation applied, RGB or RGBA
    format: str  # "JPEG" or "PNG" (what the content really is)
    width: int
    height: int

    def encode(self, fmt: str | None = None, **options) -> bytes:
        """Re-encode (PNG keeps transparency; JPEG is written RGB, quality 92)."""
        fmt = fmt or ("PNG" if self.image.mode in ("RGBA", "LA") else self.format)
        image = self.image if fmt == "PNG" else self.image.convert("RGB")
        buffer = BytesIO()
        if fmt == "JPEG":
            options.setdefault("quality", 92)
        image.save(buffer, fmt, **options)
        return buffer.getvalue()


def read_upload(file_storage, *, max_bytes: int, field: str) -> bytes:
    """Read an uploaded file, refusing it as soon as it is larger than ``max_bytes``."""
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageSizeExceeded(
            f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB.",
            details={"field": field, "filename": file_storage.filename, "max_bytes": max_bytes},
        )
    if not data:
        raise InvalidImageFormat(
            f"{field}: the file is empty.", details={"field": field, "filename": file_storage.filename}
        )
    return data


def too_many_pixels(
    field: str, details: dict, max_pixels: int, width: int | None = None, height: int | None = None
) -> InvalidImageFormat:
    """The INVALID_IMAGE_FORMAT error for an image over its pixel cap (the message names the cap)."""
    size = f" ({width}×{height})" if width is not None else ""
    return InvalidImageFormat(
        f"{field}: the image has too many pixels{size}; at most {max_pixels:,} pixels "
        f"({max_pixels / 1_000_000:g} megapixels) are accepted.",
        details={
            **details,
            "reason": "too_many_pixels",
            "max_pixels": max_pixels,
            **({"width": width, "height": height} if width is not None else {}),
        },
    )


@dataclass
class ProbedImage:
    format: str
    width: int
    height: int


def probe_image(
    data: bytes,
    *,
    field: str,
    filename: str | None = None,
    min_side: int = 0,
    max_pixels: int = MAX_PIXELS,
    formats: tuple[str, ...] = ("JPEG", "PNG"),
) -> ProbedImage:
    """Read only the header (format, size, frames; nothing is decoded) and refuse what a decode must not
    be spent on: INVALID_IMAGE_FORMAT (not JPEG/PNG, over ``max_pixels``, animated, smaller than
    ``min_side``). Run it on every file of a request before decoding any of them."""
    details = {"field": field, "filename": filename}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(formats)) as probe:
                fmt, width, height = probe.format, probe.width, probe.height
                if width * height > max_pixels:
                    raise too_many_pixels(field, details, max_pixels, width, height)
                if getattr(probe, "is_animated", False) or getattr(probe, "n_frames", 1) > 1:
                    raise InvalidImageFormat(
                        f"{field}: animated or multi-frame images are not accepted.",
                        details={**details, "reason": "multi_frame"},
                    )
    except InvalidImageFormat:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own cap (Image.MAX_IMAGE_PIXELS) fired while reading the header.
        raise too_many_pixels(field, details, max_pixels) from None
    except UnidentifiedImageError:
        names = ", ".join("JPG" if f == "JPEG" else ("WebP" if f == "WEBP" else f) for f in formats)
        raise InvalidImageFormat(
            f"{field}: only real {names} images are accepted.", details={**details, "reason": "not_jpeg_or_png"}
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImageFormat(
            f"{field}: the image is damaged or truncated.", details={**details, "reason": "corrupt"}
        ) from None
    if min(width, height) < min_side:  # the short side does not change with EXIF orientation
        raise InvalidImageFormat(
            f"{field}: images must be at least {min_side}×{min_side} pixels.",
            details={**details, "reason": "too_small", "width": width, "height": height, "min_side": min_side},
        )
    return ProbedImage(format=fmt, width=width, height=height)


def check_image(
    data: bytes, *, field: str, filename: str | None = None, min_side: int = 0, max_pixels: int = MAX_PIXELS
) -> CheckedImage:
    """Decode ``data`` as JPEG or PNG and return the normalised image, or raise
    INVALID_IMAGE_FORMAT (not an image, wrong format, truncated, animated, bomb, too small).
    The header is probed first (:func:`probe_image`), so an over-cap image is never decoded."""
    details = {"field": field, "filename": filename}
    fmt = probe_image(data, field=field, filename=filename, min_side=min_side, max_pixels=max_pixels).format
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=["JPEG", "PNG"]) as probe:
                probe.verify()  # structural check (CRCs, truncation) before the real decode
            with Image.open(BytesIO(data), formats=["JPEG", "PNG"]) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
    except InvalidImageFormat:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels(field, details, max_pixels) from None
    except UnidentifiedImageError:
        raise InvalidImageFormat(
            f"{field}: only real JPG or PNG images are accepted.", details={**details, "reason": "not_jpeg_or_png"}
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImageFormat(
            f"{field}: the image is damaged or truncated.", details={**details, "reason": "corrupt"}
        ) from None
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") and _has_alpha(image) else "RGB"
    icc = image.info.get("icc_profile")
    image = image.convert(mode)
    # Pillow copies ``info`` into every derived image and writes parts of it back on save (a JPEG's
    # comment, a PNG's ICC profile): the uploader's metadata must go before anything is encoded.
    image.info = {}
    if icc:
        image = _to_srgb(image, icc)
    if min(image.size) < min_side:
        raise InvalidImageFormat(
            f"{field}: images must be at least {min_side}×{min_side} pixels.",
            details={
                **details,
                "reason": "too_small",
                "width": image.width,
                "height": image.height,
                "min_side": min_side,
            },
        )
    return CheckedImage(image=image, format=fmt, width=image.width, height=image.height)


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Apply an RGB ICC profile (Display P3, Adobe RGB…) so colours survive dropping it; a profile
    that cannot be read (or is not RGB) is simply dropped, as browsers then assume sRGB anyway."""
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc))
        if source.profile.xcolor_space.strip() != "RGB":
            return image
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    converted.info = {}
    return converted


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)


def resize_to_fit(image: Image.Image, side: int) -> Image.Image:
    """Shrink so the short side is ``side`` pixels (never enlarge)."""
    scale = side / min(image.size)
    if scale >= 1:
        return image.copy()
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def square_thumbnail(image: Image.Image, size: int = 256) -> bytes:
    """Centre-cropped ``size``×``size`` JPEG for listings."""
    thumb = ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    buffer = BytesIO()
    thumb.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
