"""Put a cropped, resized or re-encoded copy back onto its original's geometry.

ORB keypoints on both images, ratio-tested matches, a RANSAC homography (suspect → original), then
the suspect is warped into the original's frame. Pixels the copy does not cover stay empty and are
reported in ``valid`` so the watermark decoder ignores them: they are never filled from the original,
whose own mark would otherwise be read back and attribute anything to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

MIN_INLIERS = 20
_RATIO = 0.8  # Lowe's ratio test
_MAX_SIDE = 1024  # features are found on copies no larger than this
_FEATURES = 4000


@dataclass
class Registration:
    """A suspect copy warped into the original's frame."""

    image: Image.Image  # original's size
    valid: np.ndarray  # H×W bool: pixels that come from the copy
    inliers: int
    homography: np.ndarray  # 3×3, suspect pixels → original pixels
    coverage: float  # share of the original the copy covers


def _gray_small(image: Image.Image, max_side: int = _MAX_SIDE) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(image.size))
    gray = np.asarray(image.convert("L"))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray, scale


# Local contrast equalisation: images whose colours differ more than their brightness (green against
# magenta, say) otherwise gave ORB a dozen keypoints instead of thousands.
_CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))


@dataclass
class Features:
    """ORB keypoints of an image, reusable across many suspects (the candidate's side)."""

    points: np.ndarray  # N×2 in full-resolution pixels
    descriptors: np.ndarray | None
    size: tuple[int, int]


def features(image: Image.Image) -> Features:
    """ORB keypoints and descriptors of ``image``."""
    gray, scale = _gray_small(image)
    gray = _CLAHE.apply(gray)
    orb = cv2.ORB_create(nfeatures=_FEATURES, scaleFactor=1.2, nlevels=8, fastThreshold=8)
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2) / scale
    return Features(points=points, descriptors=descriptors, size=image.size)


def _plausible(h: np.ndarray, suspect_size: tuple[int, int], original_size: tuple[int, int]) -> bool:
    """Reject degenerate fits: mirrored, wildly scaled or strongly perspective-distorted warps."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-9:
        return False
    h = h / h[2, 2]
    det = np.linalg.det(h[:2, :2])
    if det <= 0:
        return False
    scale = np.sqrt(det)
    if not 0.1 < scale < 10:
        return False
    return abs(h[2, 0]) * suspect_size[0] < 0.2 and abs(h[2, 1]) * suspect_size[1] < 0.2


def register(
    suspect: Image.Image,
    original: Image.Image,
    *,
    original_features: Features | None = None,
    suspect_features: Features | None = None,
) -> Registration | None:
    """Warp ``suspect`` onto ``original``'s geometry, or None if they do not match."""
    mine = suspect_features or features(suspect)
    theirs = original_features or features(original)
    if mine.descriptors is None or theirs.descriptors is None:
        return None
    if len(mine.descriptors) < MIN_INLIERS or len(theirs.descriptors) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(mine.descriptors, theirs.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = mine.points[[m.queryIdx for m in good]]
    dst = theirs.points[[m.trainIdx for m in good]]
    h, inlier_mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 2.0, maxIters=5000, confidence=0.999)
    if h is None or inlier_mask is None:
        return None
    inliers = int(inlier_mask.sum())
    if inliers < MIN_INLIERS or not _plausible(h, suspect.size, original.size):
        return None
    return _warp(suspect, original.size, h / h[2, 2], inliers)


def _warp(suspect: Image.Image, size: tuple[int, int], h: np.ndarray, inliers: int) -> Registration:
    rgb = np.asarray(suspect.convert("RGB"))
    warped = cv2.warpPerspective(rgb, h, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
    cover = cv2.warpPerspective(np.full(rgb.shape[:2], 255, np.uint8), h, size, flags=cv2.INTER_NEAREST, borderValue=0)
    # Interpolation blends the copy's edge with the empty border: keep 2 px away from it.
    valid = cv2.erode(cover, np.ones((5, 5), np.uint8)) > 0
    return Registration(
        image=Image.fromarray(warped, "RGB"), valid=valid, inliers=inliers, homography=h, coverage=float(valid.mean())
    )


def refine(registration: Registration, suspect: Image.Image, original: Image.Image) -> Registration | None:
    """Sharpen a feature registration to a fraction of a pixel with ECC (intensity alignment).

    Keypoint homographies were off by 1–9 px at the far corners of a cropped, shrunk JPEG copy, which
    costs the 8×8-pixel watermark blocks much of their margin; ECC brings that to ~0.1–0.5 px. It runs
    on copies no larger than 512 px (≈0.1–0.5 s) and is only worth it when the first decode failed.
    """
    template, t_scale = _gray_small(original, 512)
    moving, m_scale = _gray_small(suspect, 512)
    s_t = np.diag([t_scale, t_scale, 1.0])
    s_m = np.diag([m_scale, m_scale, 1.0])
    small = s_t @ registration.homography @ np.linalg.inv(s_m)  # suspect-small → original-small
    start = np.linalg.inv(small)
    start = (start / start[2, 2]).astype(np.float32)  # ECC's warp maps template → moving image
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-6)
    try:
        _, found = cv2.findTransformECC(
            template.astype(np.float32), moving.astype(np.float32), start, cv2.MOTION_HOMOGRAPHY, criteria, None, 3
        )
    except cv2.error:  # did not converge: keep the feature fit
        return None
    h = np.linalg.inv(s_t) @ np.linalg.inv(found.astype(np.float64)) @ s_m
    if not _plausible(h, suspect.size, original.size):
        return None
    return _warp(suspect, original.size, h / h[2, 2], registration.inliers)
