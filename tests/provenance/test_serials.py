"""Public licence serials."""

from __future__ import annotations

import pytest

from stylelicense.provenance.serials import MAX_SERIAL, format_serial, new_serial, parse_serial


def test_public_form_round_trips():
    assert format_serial(0x1234) == "SL-0000-0000-0000-1234"
    assert format_serial(MAX_SERIAL) == "SL-7FFF-FFFF-FFFF-FFFF"
    for serial in (1, 0x1234, MAX_SERIAL, new_serial()):
        assert parse_serial(format_serial(serial)) == serial
    assert parse_serial("sl-00000000-0000-1234") == 0x1234  # case and dashes forgiven
    assert parse_serial(" SL0000000000001234 ") == 0x1234


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SL-0000-0000-0000-0000",
        "SL-8000-0000-0000-0000",
        "SL-12",
        "1234",
        "SL-0000-0000-0000-00G0",
        "SL-0000-0000-0000-12345",
    ],
)
def test_rejects_what_is_not_a_serial(text):
    assert parse_serial(text) is None


def test_new_serials_are_random_and_in_range():
    serials = {new_serial() for _ in range(200)}
    assert len(serials) == 200 and all(0 < s <= MAX_SERIAL for s in serials)
    assert max(serials) > 1 << 60  # spread over the whole range, not counting up
    with pytest.raises(ValueError):
        format_serial(0)


def test_terms_document_matches_the_versions_we_issue():
    from pathlib import Path

    from stylelicense.provenance.terms import CURRENT_TERMS_VERSION, TERMS, terms_summary

    document = (Path(__file__).resolve().parents[2] / "docs" / "LICENSE_TERMS.md").read_text()
    assert CURRENT_TERMS_VERSION in TERMS
    for version in TERMS:
        assert f"`{version}`" in document  # every issued version is in the history table
    summary = terms_summary(CURRENT_TERMS_VERSION)
    assert "commercial_use" in summary["permissions"] and "attribution" in summary["requirements"]
    assert {"resell_style", "train_models"} <= set(summary["prohibitions"])
    assert terms_summary("sl-0.0") is None
