"""Content Credentials by default: a development instance creates its local C2PA chain once (as it
does its secret key), so every output of a local run is signed; production and testing never get
one implicitly."""

from __future__ import annotations

import io

from PIL import Image

from stylelicense.config import load_config
from stylelicense.provenance import c2pa_manifest


def test_development_creates_the_chain_once_and_outputs_are_signed_with_it(tmp_path):
    config = load_config(tmp_path, {"STYLELICENSE_ENV": "development"})
    key = config["C2PA_SIGNING_KEY_PATH"]
    assert key == str(tmp_path / "c2pa" / "c2pa-signer.key")
    first = (tmp_path / "c2pa" / "c2pa-signer.key").read_bytes()
    again = load_config(tmp_path, {"STYLELICENSE_ENV": "development"})
    assert again["C2PA_SIGNING_KEY_PATH"] == key
    assert (tmp_path / "c2pa" / "c2pa-signer.key").read_bytes() == first  # kept, not regenerated
    assert (tmp_path / "c2pa" / "c2pa-signer.key").stat().st_mode & 0o077 == 0

    chain, private = c2pa_manifest.load_signing_material(key, config["C2PA_CERT_CHAIN_PATH"])
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buffer, "PNG")
    signed = c2pa_manifest.sign_c2pa(
        buffer.getvalue(),
        cert_chain_pem=chain,
        private_key_pem=private,
        manifest_info={"artist": "A", "licence_serial": "SL-TEST", "watermark_alg": "org.stylelicense.test"},
    )
    manifest = c2pa_manifest.read_c2pa(signed, trust_anchors_pem=open(config["C2PA_TRUST_ANCHORS_PATH"], "rb").read())
    assert manifest["valid"] and manifest["trusted"]


def test_configured_paths_win_and_other_modes_get_no_implicit_chain(tmp_path):
    configured = load_config(
        tmp_path, {"STYLELICENSE_ENV": "development", "C2PA_SIGNING_KEY_PATH": "/k", "C2PA_CERT_CHAIN_PATH": "/c"}
    )
    assert (configured["C2PA_SIGNING_KEY_PATH"], configured["C2PA_CERT_CHAIN_PATH"]) == ("/k", "/c")
    testing = load_config(tmp_path / "t", {"STYLELICENSE_ENV": "testing"})
    production = load_config(
        tmp_path / "p", {"STYLELICENSE_ENV": "production", "SECRET_KEY": "s", "INTERNAL_API_TOKEN": "t"}
    )
    for config in (testing, production):
        assert config["C2PA_SIGNING_KEY_PATH"] is None and config["C2PA_CERT_CHAIN_PATH"] is None
    assert not (tmp_path / "c2pa").exists() and not (tmp_path / "p" / "c2pa").exists()
