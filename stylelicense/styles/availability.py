"""Whether a style can still be bought: a deactivated artist's styles are unavailable (SPEC §13).

Kept apart from the other purchase checks (paused, price) so every path that sells or delivers a
style asks the same question: creation refuses it before charging, the worker's reports fail and
refund a job that was queued before the artist left, and the artist is never credited for it.
"""

from __future__ import annotations

from ..errors import APIError
from .models import Style


class StyleUnavailable(APIError):
    status, code, message = 409, "STYLE_UNAVAILABLE", "This style is no longer available."


def style_is_available(style: Style) -> bool:
    """False once the style's artist account is deactivated (the style stays for copyright tracing)."""
    artist = style.artist
    return artist is not None and artist.user is not None and artist.user.is_active


def ensure_style_available(style: Style) -> None:
    """Raise STYLE_UNAVAILABLE (409) for a deactivated artist's style."""
    if not style_is_available(style):
        raise StyleUnavailable(details={"style_id": style.id})
