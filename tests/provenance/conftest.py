"""Fixtures for the provenance tests: small synthetic pictures, a watermark key and a dev C2PA chain."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from stylelicense.provenance import c2pa_manifest

# Tests bring their own key; the real one only ever comes from WATERMARK_KEY.
KEY = b"provenance-test-key-0123456789abcdef"
OTHER_KEY = b"someone-elses-key-0123456789abcdef!!"


def make_picture(width: int, height: int, seed: int) -> Image.Image:
    """A textured illustration: gradient, shapes, a little grain (enough detail for keypoints)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, width)[None, :, None]
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    base = np.broadcast_to(c0 * (1 - t) + c1 * t, (height, width, 3))
    image = Image.fromarray(np.clip(base + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(10, height // 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0), width=2)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def reencode(image: Image.Image, fmt: str, **options) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory):
    return c2pa_manifest.generate_dev_chain(tmp_path_factory.mktemp("c2pa"))


def tamper_png_pixels(data: bytes, offset: int = -8) -> bytes:
    """Change one pixel byte of a PNG but keep every other chunk (C2PA manifest included): the IDAT
    stream is inflated, edited and deflated again, as an editor that preserves metadata would.

    The byte is in the last scanline by default: PNG filters predict each row from the one above,
    so a byte changed higher up garbles every row below it (a fifth of the picture, at random)."""
    import struct
    import zlib

    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    raw = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    raw[offset] ^= 0x10
    out, idat_written = [data[:8]], False
    for kind, body in chunks:
        if kind == b"IDAT":
            if idat_written:
                continue
            kind, body, idat_written = b"IDAT", zlib.compress(bytes(raw)), True
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)
