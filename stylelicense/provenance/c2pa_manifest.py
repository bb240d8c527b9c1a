"""C2PA manifests: sign an output with the platform's certificate chain, read and validate one back.

The manifest declares the image as created by a trained model (IPTC digital source type
``trainedAlgorithmicMedia``), names the artist, the licence serial and its terms, and declares the
invisible watermark (``c2pa.watermarked`` + the ``c2pa.soft-binding`` assertion the spec requires
with it). Signing is the LAST step of the output stage: any later change to the file breaks the hard
binding, and any re-encode drops the manifest (NOTES §8), which is why the watermark exists too.

Keys: production points ``C2PA_SIGNING_KEY_PATH`` (PKCS#8 PEM) and ``C2PA_CERT_CHAIN_PATH`` (signer
certificate then intermediates, PEM) at its own material; development generates a local ES256
chain with :func:`generate_dev_chain` (``flask --app wsgi provenance init-certs``). Readers report
such a chain as ``Valid`` (untrusted) unless its root is configured as a trust anchor, which makes
it ``Trusted``. No timestamp authority is used (the workers are offline).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_PATH_ENV = "C2PA_SIGNING_KEY_PATH"
CHAIN_PATH_ENV = "C2PA_CERT_CHAIN_PATH"
TRUST_ANCHORS_ENV = "C2PA_TRUST_ANCHORS_PATH"

LICENCE_ASSERTION = "org.stylelicense.licence"
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CLAIM_GENERATOR = {"name": "Style License", "version": "1.0"}

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# Thumbnails off: ≈ 5 ms and 3 KB per image instead of ≈ 120 ms and 137 KB (NOTES §8).
_SIGN_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


class C2paSigningError(RuntimeError):
    """The manifest could not be built or signed (bad key, chain or manifest)."""


# ------------------------------------------------------------------------------------------------
# Signing
# ------------------------------------------------------------------------------------------------


def build_manifest(manifest_info: dict) -> dict:
    """The manifest definition for one output.

    ``manifest_info`` keys: ``title``, ``artist``, ``licence_serial`` (public form), ``licence_url``,
    ``terms_version``, ``style_title``, ``style_id``, ``generation_id``, ``created_at`` (ISO 8601),
    ``watermark_alg`` (the soft-binding algorithm id); missing optional keys are left out.
    """
    agent = {"name": CLAIM_GENERATOR["name"], "version": CLAIM_GENERATOR["version"]}
    created = {
        "action": "c2pa.created",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": agent,
        "parameters": {"description": f"Generated with a model trained on the style of {manifest_info['artist']}"},
    }
    if manifest_info.get("created_at"):
        created["when"] = manifest_info["created_at"]
    licence = {
        key: manifest_info[key]
        for key in (
            "licence_serial",
            "artist",
            "licence_url",
            "certificate_url",
            "terms_version",
            "style_title",
            "style_id",
            "generation_id",
            "created_at",
        )
        if manifest_info.get(key) is not None
    }
    return {
        "claim_generator_info": [CLAIM_GENERATOR],
        "title": manifest_info.get("title") or f"{manifest_info['licence_serial']}.png",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        created,
                        {
                            "action": "c2pa.watermarked",
                            "softwareAgent": agent,
                            "parameters": {"description": "Invisible watermark carrying the licence serial"},
                        },
                    ]
                },
            },
            {
                # Required with c2pa.watermarked: names the mark and the value it carries.
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": manifest_info["watermark_alg"],
                    "blocks": [{"scope": {}, "value": manifest_info["licence_serial"]}],
                    "pad": [],
                },
            },
            {"label": LICENCE_ASSERTION, "data": licence},
        ],
    }


def _image_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("not a PNG, JPEG or WebP file")


def sign_c2pa(png_bytes: bytes, *, manifest_info: dict, cert_chain_pem: bytes, private_key_pem: bytes) -> bytes:
    """Embed a signed C2PA manifest into ``png_bytes`` (PNG, JPEG or WebP) and return the new file.

    ``cert_chain_pem``: signer certificate first, then the intermediates (not the root).
    ``private_key_pem``: the signer's ES256 (P-256) key, PKCS#8 PEM.
    """
    mime = _image_mime(png_bytes)
    manifest = build_manifest(manifest_info)
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(
                c2pa.C2paSigningAlg.ES256, _pem_bytes(cert_chain_pem), _pem_bytes(private_key_pem), None
            )
        )
        with signer, c2pa.Context.from_dict(_SIGN_SETTINGS) as context, c2pa.Builder(manifest, context) as builder:
            out = io.BytesIO()
            builder.sign(signer, mime, io.BytesIO(png_bytes), out)
    except c2pa.C2paError as error:
        raise C2paSigningError(f"C2PA signing failed: {error}") from error
    return out.getvalue()


def _pem_text(pem: bytes | str) -> str:
    return pem.decode("ascii") if isinstance(pem, bytes) else pem


def _pem_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else bytes(pem)


def load_signing_material(
    key_path: str | os.PathLike | None = None, chain_path: str | os.PathLike | None = None
) -> tuple[bytes, bytes] | None:
    """``(cert_chain_pem, private_key_pem)`` from the given paths or ``C2PA_CERT_CHAIN_PATH`` /
    ``C2PA_SIGNING_KEY_PATH``; None when neither is configured."""
    key_path = key_path or os.environ.get(KEY_PATH_ENV)
    chain_path = chain_path or os.environ.get(CHAIN_PATH_ENV)
    if not key_path and not chain_path:
        return None
    if not key_path or not chain_path:
        raise RuntimeError(f"set both {KEY_PATH_ENV} and {CHAIN_PATH_ENV} (or neither)")
    return Path(chain_path).read_bytes(), Path(key_path).read_bytes()


# ------------------------------------------------------------------------------------------------
# Reading and validation
# ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _read_settings(trust_anchors_pem: bytes | None) -> str:
    settings: dict = {"verify": {"verify_trust": trust_anchors_pem is not None}}
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": _pem_text(trust_anchors_pem)}
    return json.dumps(settings)


def read_c2pa(data: bytes, *, trust_anchors_pem: bytes | None = None) -> dict | None:
    """The active manifest of ``data`` and its validation, or None when the file carries none.

    Returns ``{"validation_state", "valid", "trusted", "failures", "licence", "actions",
    "soft_bindings", "signature"}``: ``validation_state`` is c2pa's (``Invalid`` / ``Valid`` /
    ``Trusted``); ``valid`` means intact and correctly signed; ``trusted`` additionally that the chain
    ends at one of ``trust_anchors_pem`` (our root), i.e. that *we* signed it; ``failures`` lists
    c2pa's failure codes (``signingCredential.untrusted`` alone is not a failure of integrity).
    """
    try:
        mime = _image_mime(data)
    except ValueError:
        return None
    try:
        with c2pa.Context.from_json(_read_settings(trust_anchors_pem)) as context:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, context)
            if reader is None:
                return None
            with reader:
                state = reader.get_validation_state()
                results = reader.get_validation_results() or {}
                manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError:
        return {
            "validation_state": "Invalid",
            "valid": False,
            "trusted": False,
            "failures": ["unreadable"],
            "licence": None,
            "actions": [],
            "soft_bindings": [],
            "signature": None,
        }
    failures = [item.get("code") for item in (results.get("activeManifest") or {}).get("failure", [])]
    integrity_failures = [code for code in failures if code != "signingCredential.untrusted"]
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions", [])}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions", [])
    soft = [assertions[label] for label in assertions if label and label.startswith("c2pa.soft-binding")]
    return {
        "validation_state": state,
        "valid": state in ("Valid", "Trusted") and not integrity_failures,
        "trusted": state == "Trusted" and trust_anchors_pem is not None,
        "failures": failures,
        "licence": assertions.get(LICENCE_ASSERTION),
        "actions": actions,
        "soft_bindings": soft,
        "signature": manifest.get("signature_info"),
    }


# ------------------------------------------------------------------------------------------------
# A local certificate chain for development
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevChain:
    root_cert: Path  # the trust anchor to configure (C2PA_TRUST_ANCHORS_PATH)
    cert_chain: Path  # signer + intermediate (C2PA_CERT_CHAIN_PATH)
    signing_key: Path  # the signer's key (C2PA_SIGNING_KEY_PATH), mode 0600


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Style License"),
        ]
    )


def _certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool, path_length: int | None, days: int):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if not ca:  # C2PA validators accept only signers with one of a few EKUs; emailProtection is one
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def generate_dev_chain(
    out_dir: str | os.PathLike, *, name: str = "Style License Development", days: int = 825
) -> DevChain:
    """Write a fresh ES256 chain (root → intermediate → signer) for local signing into ``out_dir``.

    Only the signer's key is kept: the root and intermediate keys are discarded, so this chain can
    sign nothing else (run it again for a new one). Never use it in production.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root_key, inter_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate(f"{name} Root CA", root_key, f"{name} Root CA", root_key, ca=True, path_length=1, days=days)
    inter = _certificate(
        f"{name} Intermediate CA", inter_key, f"{name} Root CA", root_key, ca=True, path_length=0, days=days
    )
    signer = _certificate(
        f"{name} Signer", signer_key, f"{name} Intermediate CA", inter_key, ca=False, path_length=None, days=days
    )
    pem = serialization.Encoding.PEM
    paths = DevChain(out / "c2pa-root.pem", out / "c2pa-chain.pem", out / "c2pa-signer.key")
    paths.root_cert.write_bytes(root.public_bytes(pem))
    paths.cert_chain.write_bytes(signer.public_bytes(pem) + inter.public_bytes(pem))
    key_bytes = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(paths.signing_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    os.chmod(paths.signing_key, 0o600)  # an existing file keeps its old mode otherwise
    return paths
