"""Upload checks by content (never by file name or client content type).

Used for training images, signatures and profile pictures: real decode with Pillow restricted to
JPEG/PNG, decompression bombs and multi-frame files refused, EXIF orientation applied, then
re-encoded (which also drops any hidden payload).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageSizeExceeded, InvalidImageFormat

# A 10 MB upload can still decode to gigabytes; refuse anything above ~40 megapixels.
MAX_PIXELS = 40_000_000


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
        raise ImageSizeExceeded(f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB.",
                                details={"field": field, "filename": file_storage.filename,
                                         "max_bytes": max_bytes})
    if not data:
        raise InvalidImageFormat(f"{field}: the file is empty.", details={"field": field,
                                                                           "filename": file_storage.filename})
    return data


def check_image(data: bytes, *, field: str, filename: str | None = None, min_side: int = 0,
                max_pixels: int = MAX_PIXELS) -> CheckedImage:
    """Decode ``data`` as JPEG or PNG and return the normalised image, or raise
    INVALID_IMAGE_FORMAT (not an image, wrong format, truncated, animated, bomb, too small)."""
    details = {"field": field, "filename": filename}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=["JPEG", "PNG"]) as probe:
                fmt = probe.format
                if probe.width * probe.height > max_pixels:
                    raise InvalidImageFormat(f"{field}: the image has too many pixels.",
                                             details={**details, "reason": "too_many_pixels"})
                if getattr(probe, "is_animated", False) or getattr(probe, "n_frames", 1) > 1:
                    raise InvalidImageFormat(f"{field}: animated or multi-frame images are not accepted.",
                                             details={**details, "reason": "multi_frame"})
                probe.verify()  # structural check (CRCs, truncation) before the real decode
            with Image.open(BytesIO(data), formats=["JPEG", "PNG"]) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
    except InvalidImageFormat:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImageFormat(f"{field}: only real JPG or PNG images are accepted.",
                                 details={**details, "reason": "not_jpeg_or_png"}) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImageFormat(f"{field}: the image is damaged or truncated.",
                                 details={**details, "reason": "corrupt"}) from None
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") and _has_alpha(image) else "RGB"
    image = image.convert(mode)
    if min(image.size) < min_side:
        raise InvalidImageFormat(f"{field}: images must be at least {min_side}×{min_side} pixels.",
                                 details={**details, "reason": "too_small", "width": image.width,
                                          "height": image.height, "min_side": min_side})
    return CheckedImage(image=image, format=fmt, width=image.width, height=image.height)


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
