"""C2PA manifests: what an untouched output says, and refusals once it is touched."""

from __future__ import annotations

import io
import os
import stat

import pytest
from cryptography import x509
from PIL import Image

from stylelicense.provenance import c2pa_manifest as cm

from .conftest import make_picture

INFO = {
    "artist": "Hana Kim",
    "licence_serial": "SL-0123-4567-89AB-CDEF",
    "licence_url": "https://stylelicense.example/licences/SL-0123-4567-89AB-CDEF",
    "terms_version": "sl-1.0",
    "style_title": "Ink Garden",
    "style_id": "42",
    "generation_id": "7",
    "created_at": "2025-03-01T12:00:00Z",
    "watermark_alg": "org.stylelicense.watermark.dwt-dct-svd.v1",
}


@pytest.fixture(scope="module")
def png():
    buf = io.BytesIO()
    make_picture(256, 256, seed=21).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def signed(png, dev_chain):
    return cm.sign_c2pa(
        png,
        manifest_info=INFO,
        cert_chain_pem=dev_chain.cert_chain.read_bytes(),
        private_key_pem=dev_chain.signing_key.read_bytes(),
    )


def test_untouched_output_validates_and_names_artist_serial_licence(png, signed):
    manifest = cm.read_c2pa(signed)
    assert manifest["validation_state"] == "Valid" and manifest["valid"] and not manifest["trusted"]
    assert manifest["licence"]["artist"] == "Hana Kim"
    assert manifest["licence"]["licence_serial"] == INFO["licence_serial"]
    assert manifest["licence"]["licence_url"] == INFO["licence_url"]
    assert manifest["licence"]["terms_version"] == "sl-1.0"
    created = next(a for a in manifest["actions"] if a["action"] == "c2pa.created")
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert any(a["action"] == "c2pa.watermarked" for a in manifest["actions"])
    assert manifest["soft_bindings"][0]["alg"] == INFO["watermark_alg"]
    assert manifest["soft_bindings"][0]["blocks"][0]["value"] == INFO["licence_serial"]
    # The pixels are untouched and no thumbnail was embedded (a few KB of manifest only).
    assert Image.open(io.BytesIO(signed)).tobytes() == Image.open(io.BytesIO(png)).tobytes()
    assert len(signed) - len(png) < 20_000


def test_trusted_only_with_our_root(signed, dev_chain, tmp_path):
    ours = cm.read_c2pa(signed, trust_anchors_pem=dev_chain.root_cert.read_bytes())
    assert ours["validation_state"] == "Trusted" and ours["trusted"]
    stranger = cm.generate_dev_chain(tmp_path / "other")
    theirs = cm.read_c2pa(signed, trust_anchors_pem=stranger.root_cert.read_bytes())
    assert not theirs["trusted"] and "signingCredential.untrusted" in theirs["failures"]
    assert theirs["valid"]  # intact, just not ours


def test_changed_pixels_are_refused(signed):
    tampered = bytearray(signed)
    at = tampered.index(b"IDAT") + 64
    tampered[at] ^= 0x01
    manifest = cm.read_c2pa(bytes(tampered))
    assert manifest["validation_state"] == "Invalid" and not manifest["valid"]
    assert "assertion.dataHash.mismatch" in manifest["failures"]


def test_changed_manifest_is_refused(signed):
    tampered = bytearray(signed)
    at = tampered.index(b"Hana Kim")
    tampered[at : at + 8] = b"Mallory!"  # same length: only the claim's own hashes can notice
    manifest = cm.read_c2pa(bytes(tampered))
    assert not manifest["valid"]
    assert manifest["validation_state"] == "Invalid"


def test_reencoding_drops_the_manifest(signed):
    buf = io.BytesIO()
    Image.open(io.BytesIO(signed)).convert("RGB").save(buf, "JPEG", quality=90)
    assert cm.read_c2pa(buf.getvalue()) is None
    assert cm.read_c2pa(b"not an image") is None


def test_signing_refuses_a_key_that_does_not_match_the_chain(png, dev_chain, tmp_path):
    stranger = cm.generate_dev_chain(tmp_path / "other")
    with pytest.raises(cm.C2paSigningError):
        cm.sign_c2pa(
            png,
            manifest_info=INFO,
            cert_chain_pem=dev_chain.cert_chain.read_bytes(),
            private_key_pem=stranger.signing_key.read_bytes(),
        )


def test_dev_chain_shape(dev_chain):
    chain = x509.load_pem_x509_certificates(dev_chain.cert_chain.read_bytes())
    root = x509.load_pem_x509_certificate(dev_chain.root_cert.read_bytes())
    assert len(chain) == 2  # signer, intermediate; the root is the trust anchor, not in the chain
    assert chain[0].issuer == chain[1].subject and chain[1].issuer == root.subject
    assert not chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(os.stat(dev_chain.signing_key).st_mode) == 0o600
    assert not list(dev_chain.root_cert.parent.glob("*root*.key"))  # CA keys are not kept


def test_signing_material_from_environment(monkeypatch, dev_chain):
    monkeypatch.delenv(cm.KEY_PATH_ENV, raising=False)
    monkeypatch.delenv(cm.CHAIN_PATH_ENV, raising=False)
    assert cm.load_signing_material() is None
    monkeypatch.setenv(cm.KEY_PATH_ENV, str(dev_chain.signing_key))
    with pytest.raises(RuntimeError):
        cm.load_signing_material()  # half-configured is an error, not a silent "unsigned"
    monkeypatch.setenv(cm.CHAIN_PATH_ENV, str(dev_chain.cert_chain))
    chain, key = cm.load_signing_material()
    assert chain == dev_chain.cert_chain.read_bytes() and key == dev_chain.signing_key.read_bytes()
