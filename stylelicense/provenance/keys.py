"""Where the provenance secrets come from (the environment; never the repository).

- ``WATERMARK_KEY``: the watermark's HMAC key, shared by the workers (writing) and the API (reading);
  at least 16 bytes. Required in production. Elsewhere, when it is unset, a key is derived from
  ``INTERNAL_API_TOKEN``, which the API and its workers already share, so a development setup marks
  and verifies images without extra configuration.
- ``C2PA_SIGNING_KEY_PATH`` / ``C2PA_CERT_CHAIN_PATH``: the workers' signing key and chain (required
  in production; in development ``flask --app wsgi provenance init-certs`` makes a local chain, and
  without one outputs are delivered without a C2PA manifest).
- ``C2PA_TRUST_ANCHORS_PATH``: our root certificate(s), PEM, for the API: a manifest counts as
  signed by us only when its chain ends there.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from .c2pa_manifest import CHAIN_PATH_ENV, KEY_PATH_ENV, TRUST_ANCHORS_ENV, load_signing_material
from .watermark import KEY_ENV, normalize_key

_DEV_DOMAIN = b"stylelicense/development-watermark-key/v1"


class ProvenanceConfigError(RuntimeError):
    """A required provenance secret is missing or unusable."""


def watermark_key(env: Mapping[str, str | None]) -> bytes:
    """The watermark key for this deployment (see the module docstring)."""
    value = env.get(KEY_ENV)
    if value:
        try:
            return normalize_key(value)
        except ValueError as error:
            raise ProvenanceConfigError(str(error)) from None
    if env.get("STYLELICENSE_ENV") == "production":
        raise ProvenanceConfigError(f"{KEY_ENV} is required in production")
    token = env.get("INTERNAL_API_TOKEN")
    if not token:
        raise ProvenanceConfigError(f"set {KEY_ENV} (or INTERNAL_API_TOKEN outside production)")
    return hmac.new(token.encode("utf-8"), _DEV_DOMAIN, hashlib.sha256).digest()


def signing_material(env: Mapping[str, str | None]) -> tuple[bytes, bytes] | None:
    """``(cert_chain_pem, private_key_pem)`` or None (development without a chain)."""
    material = load_signing_material(env.get(KEY_PATH_ENV), env.get(CHAIN_PATH_ENV))
    if material is None and env.get("STYLELICENSE_ENV") == "production":
        raise ProvenanceConfigError(f"{KEY_PATH_ENV} and {CHAIN_PATH_ENV} are required in production")
    return material


def trust_anchors(env: Mapping[str, str | None]) -> bytes | None:
    """Our root certificate(s) as PEM, or None when not configured."""
    path = env.get(TRUST_ANCHORS_ENV)
    return Path(path).read_bytes() if path else None
