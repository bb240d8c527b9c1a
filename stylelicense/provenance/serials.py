"""Licence serials: random 63-bit numbers with a public form ``SL-XXXX-XXXX-XXXX-XXXX`` (hex).

Random, not sequential: the watermark tolerates a few wrong bits when matching a copy against a
known serial, which is only safe while any two serials' payloads are far apart; random serials are
~32 bits apart (sequential ones would differ in one or two). Pure Python: the API allocates serials,
the workers write them into images.
"""

from __future__ import annotations

import re
import secrets

MAX_SERIAL = (1 << 63) - 1  # a signed BIGINT column
_PUBLIC = re.compile(r"^SL-?([0-9A-F]{4})-?([0-9A-F]{4})-?([0-9A-F]{4})-?([0-9A-F]{4})$")


def new_serial() -> int:
    """A fresh random serial in [1, 2^63 - 1]."""
    return 1 + secrets.randbelow(MAX_SERIAL)


def format_serial(serial: int) -> str:
    """``1234`` → ``SL-0000-0000-0000-04D2``."""
    if not 0 < serial <= MAX_SERIAL:
        raise ValueError("serial out of range")
    digits = f"{serial:016X}"
    return "SL-" + "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def parse_serial(text: str) -> int | None:
    """The serial of a public form (case and dashes forgiven), or None if it is not one."""
    match = _PUBLIC.match(text.strip().upper())
    if not match:
        return None
    serial = int("".join(match.groups()), 16)
    return serial if 0 < serial <= MAX_SERIAL else None
