"""The licence terms in force, in the short form certificates show (full text: docs/LICENSE_TERMS.md,
Korean docs/LICENSE_TERMS.ko.md; the SPA renders both at ``/licence-terms/<version>``).

Images keep the version they were issued under; add a new entry for a new version, never edit one
(and keep the old full text: the SPA's frontend/src/licence/terms.js maps each version to its files).
"""

from __future__ import annotations

CURRENT_TERMS_VERSION = "sl-1.0"

TERMS: dict[str, dict] = {
    "sl-1.0": {
        "version": "sl-1.0",
        "effective": "2025-01-01",
        "document": "docs/LICENSE_TERMS.md",
        "permissions": [
            "commercial_use",  # personal and commercial use, worldwide, no time limit
            "modification",  # edit, crop, resize, combine
            "sell_derived_works",  # products and works that incorporate the image
        ],
        "requirements": [
            "attribution",  # "Style by <artist> via Style License"
            "keep_serial",  # keep the licence serial available
            "disclose_ai",  # do not present it as hand-made or made without AI
        ],
        "prohibitions": [
            "resell_image_standalone",  # stock sites, packs, NFTs of the unmodified image
            "resell_style",  # the style itself, or generation "in the style of" as a service
            "train_models",  # no training/fine-tuning on outputs to imitate the style
            "strip_provenance_to_misattribute",
            "unlawful_or_deceptive_use",
        ],
    }
}


def terms_path(version: str = CURRENT_TERMS_VERSION) -> str:
    """The public page of a terms version, relative to the site (the SPA route /licence-terms/:version).

    Written into every file's metadata and certificate: it must stay valid for as long as files exist.
    """
    return f"/licence-terms/{version}"


def terms_summary(version: str) -> dict | None:
    """The short form of a terms version, or None if unknown."""
    terms = TERMS.get(version)
    return dict(terms) if terms else None
