"""User text: one way to remove markup, and the field checks built on it (titles, descriptions).

Every free text a user writes (style titles and descriptions, generation descriptions, comments, bios,
artist names) goes through :func:`plain_text`, so they all behave the same: no tag survives, not even one
hidden behind entities. Shared layer: imports no Flask (the error classes are plain exceptions).
"""

from __future__ import annotations

import html

import nh3

from .errors import ValidationError


def plain_text(text: str) -> str:
    """Text without markup, trimmed. nh3 drops tags (and script/style contents) but escapes ``<`` and
    ``&``; decoding the entities gives the text back, and repeating until nothing changes removes tags
    that were hidden behind entities (``&lt;b&gt;`` decodes to ``<b>``, which the next pass removes)."""
    for _ in range(5):
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        if cleaned == text:
            break
        text = cleaned
    return text.strip()


def one_line(text: str) -> str:
    """:func:`plain_text` with every run of whitespace (newlines included) turned into one space."""
    return " ".join(plain_text(text).split())


def field_error(field: str, message: str, **details) -> ValidationError:
    """VALIDATION_ERROR naming one field (SPEC §6: ``details.fields``)."""
    return ValidationError(message, details={"fields": [{"field": field, "message": message, **details}]})


def clean_title(raw: str, *, max_length: int, field: str = "title") -> str:
    """One line of plain text in any language, 1–``max_length`` characters."""
    title = one_line(raw)
    if not 1 <= len(title) <= max_length:
        kind = "string_too_short" if not title else "string_too_long"  # the SPA translates the type
        raise field_error(
            field, f"The title must be 1–{max_length} characters of text.", type=kind, max_length=max_length
        )
    return title


def clean_description(raw: str | None, *, max_length: int, field: str = "description") -> str:
    """Plain text (may be empty), at most ``max_length`` characters."""
    text = plain_text(raw or "")
    if len(text) > max_length:
        raise field_error(field, f"The description is limited to {max_length} characters.", max_length=max_length)
    return text
