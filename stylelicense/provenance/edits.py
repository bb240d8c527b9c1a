"""Reading a candidate's mark in a copy that went through everyday edits: brightness or contrast
changed, slightly blurred (mirroring is handled by verifying the mirrored upload too).

Each step uses the stored original only to set a few global numbers (a gain and an offset) or to
choose which of the copy's own blocks vote; the bits always come from the copy, so a picture that
lacks the mark still agrees on ≈ 48 of 96 bits and the confirmation is as strict as before. The
extra reads only run for a copy whose content really is the candidate's (:func:`looks_alike`), so
unrelated uploads cost no more than before.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from . import watermark

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Quantiles compared by tone_matched: the inner 90 %, clear of clipped shadows and highlights.
_TONE_QUANTILES = np.linspace(0.05, 0.95, 19)
_CLIPPED = (4, 251)
# Correlation of the two pictures' luma (64 px, after tone matching) above which the extra reads run.
# Edited and registered copies measured ≥ 0.9; unrelated pictures registered to a candidate stay far lower.
ALIKE_MIN_CORRELATION = 0.8
# A copy blurred with a Gaussian radius up to 2 keeps its mark in the blocks a radius-2 blur of the
# original moves by less than 6 (of a 40 step): measured 95–96 of 96 bits on noise-like outputs.
_PROBE_BLUR = 2.0


def _luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) @ _LUMA


def tone_matched(view: Image.Image, original: Image.Image, valid: np.ndarray | None = None) -> Image.Image | None:
    """``view`` (on ``original``'s geometry) with a gain and offset applied so its luma levels match
    the original's, or None when they already do.

    The mark quantises each block's largest singular value, which scales with brightness: a copy made
    20 % brighter or more contrasted reads as noise (≈ 48 of 96 bits) until its levels are put back.
    """
    rgb = np.asarray(view.convert("RGB"), dtype=np.float32)
    mask = (rgb.max(axis=2) < _CLIPPED[1]) & (rgb.min(axis=2) > _CLIPPED[0])
    if valid is not None:
        mask &= valid
    if mask.sum() < 1000:
        return None
    mine = np.quantile((rgb @ _LUMA)[mask], _TONE_QUANTILES)
    theirs = np.quantile(_luma(original)[mask], _TONE_QUANTILES)
    if np.ptp(mine) < 8:  # a (nearly) flat picture: nothing to fit
        return None
    gain, offset = np.polyfit(mine, theirs, 1)
    if not 0.5 < gain < 2 or (abs(gain - 1) < 0.02 and abs(offset) < 2):
        return None
    return Image.fromarray(np.clip(np.rint(rgb * gain + offset), 0, 255).astype(np.uint8), "RGB")


def looks_alike(view: Image.Image, original: Image.Image, valid: np.ndarray | None = None) -> bool:
    """Whether ``view`` shows the original's content (luma correlation at 64 px over ``valid``)."""
    side = (64, 64)
    mine = np.asarray(view.convert("L").resize(side, Image.Resampling.BOX), dtype=np.float64)
    theirs = np.asarray(original.convert("L").resize(side, Image.Resampling.BOX), dtype=np.float64)
    if valid is not None:
        keep = np.asarray(Image.fromarray(valid).resize(side, Image.Resampling.NEAREST), dtype=bool)
        mine, theirs = mine[keep], theirs[keep]
    if mine.size < 64 or mine.std() < 1 or theirs.std() < 1:
        return False
    return float(np.corrcoef(mine.ravel(), theirs.ravel())[0, 1]) >= ALIKE_MIN_CORRELATION


def agreeing(view: Image.Image, original: Image.Image, serial: int, key: bytes, valid: np.ndarray | None = None) -> int:
    """Bits of ``serial``'s payload in ``view``: as it is, then (for a copy of the original's content)
    with its levels matched, then reading only the blocks a blur leaves steady."""
    best = watermark.match_serial(view, serial, key, valid=valid)
    if best >= watermark.MATCH_MIN_AGREEING:
        return best
    toned = tone_matched(view, original, valid)
    if not looks_alike(toned or view, original, valid):
        return best
    if toned is not None:
        best = max(best, watermark.match_serial(toned, serial, key, valid=valid))
        if best >= watermark.MATCH_MIN_AGREEING:
            return best
    blurred = original.filter(ImageFilter.GaussianBlur(_PROBE_BLUR))
    steady = watermark.steady_blocks(original, blurred, key)
    if valid is not None:
        steady &= valid
    # A blur also narrows a textured picture's levels, which a fit against the sharp original takes
    # for a contrast change: read the steady blocks as they are, then with the levels fitted to the
    # blurred original (a blurred and brightened copy).
    for attempt in (view, tone_matched(view, blurred, valid)):
        if attempt is not None:
            best = max(best, watermark.match_serial(attempt, serial, key, valid=steady))
            if best >= watermark.MATCH_MIN_AGREEING:
                break
    return best
