"""Content hashes of an output: the exact file (SHA-256) and the picture (perceptual pHash and dHash).

Perceptual hashes survive re-encoding and resizing (a few of 64 bits change) but not crops, so they
only shortlist candidates; registration and the watermark decide (NOTES §8). Hashes are 64-bit
unsigned ints here; :func:`to_signed` / :func:`from_signed` map them to PostgreSQL's BIGINT.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

HASH_BITS = 64


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of the exact bytes."""
    return hashlib.sha256(data).hexdigest()


def _to_int(h: imagehash.ImageHash) -> int:
    return int.from_bytes(np.packbits(h.hash.ravel()).tobytes(), "big")


def phash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash (imagehash.phash, 8×8)."""
    return _to_int(imagehash.phash(image.convert("RGB")))


def dhash(image: Image.Image) -> int:
    """64-bit gradient hash (imagehash.dhash, 8×8)."""
    return _to_int(imagehash.dhash(image.convert("RGB")))


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned forms)."""
    return ((a ^ b) & ((1 << HASH_BITS) - 1)).bit_count()


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as the signed integer a BIGINT column holds."""
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def from_signed(value: int) -> int:
    """Inverse of :func:`to_signed`."""
    return value + (1 << HASH_BITS) if value < 0 else value


@dataclass(frozen=True)
class ImageHashes:
    sha256: str
    phash: int
    dhash: int

    def distance(self, other_phash: int, other_dhash: int) -> int:
        """The smaller of the two perceptual distances: either hash alone may be thrown off."""
        return min(hamming(self.phash, other_phash), hamming(self.dhash, other_dhash))


def hash_image(data: bytes, image: Image.Image) -> ImageHashes:
    """All three hashes of an encoded file and its decoded picture."""
    return ImageHashes(sha256=sha256_hex(data), phash=phash(image), dhash=dhash(image))
