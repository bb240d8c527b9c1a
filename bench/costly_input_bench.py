"""Issue 16: what a decompression bomb costs now (refused from its header) against decoding it.

Run: PYTHONPATH=. .venv/bin/python bench/costly_input_bench.py — prints seconds and file sizes; asserts nothing."""

from __future__ import annotations

import time
from io import BytesIO

from PIL import Image

from stylelicense.errors import InvalidImageFormat
from stylelicense.images import MAX_PROFILE_IMAGE_PIXELS, check_image


def main() -> None:
    buffer = BytesIO()
    Image.new("L", (8000, 5000), 0).save(buffer, "PNG")
    bomb = buffer.getvalue()
    print(f"bomb: 8000x5000 PNG, {len(bomb):,} bytes")

    start = time.perf_counter()
    try:
        check_image(bomb, field="profile_image", max_pixels=MAX_PROFILE_IMAGE_PIXELS)
    except InvalidImageFormat as error:
        print(f"refused in {time.perf_counter() - start:.4f} s: {error.message}")

    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # what a full decode would have cost
    try:
        start = time.perf_counter()
        with Image.open(BytesIO(bomb)) as image:
            image.load()
            size = image.width * image.height * len(image.getbands())
        print(f"full decode: {time.perf_counter() - start:.4f} s, ~{size / 1e6:.0f} MB of pixels")
    finally:
        Image.MAX_IMAGE_PIXELS = saved


if __name__ == "__main__":
    main()
