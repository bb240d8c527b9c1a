"""Operator commands: ``flask --app wsgi provenance init-certs`` and ``provenance verify FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

group = AppGroup("provenance", help="Licences, C2PA certificates and verification of image files.")


@group.command("init-certs")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the chain (default: <instance>/c2pa).",
)
@click.option("--force", is_flag=True, help="Replace an existing chain.")
def init_certs(out_dir: Path | None, force: bool) -> None:
    """Generate a local ES256 C2PA chain (root → intermediate → signer) for development."""
    from .c2pa_manifest import generate_dev_chain

    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException(
            "production signs with its own certificate (C2PA_SIGNING_KEY_PATH / "
            "C2PA_CERT_CHAIN_PATH); this command is for development only"
        )
    out_dir = out_dir or Path(current_app.instance_path) / "c2pa"
    if (out_dir / "c2pa-signer.key").exists() and not force:
        raise click.ClickException(f"a chain already exists in {out_dir} (use --force to replace it)")
    chain = generate_dev_chain(out_dir)
    click.echo(f"C2PA development chain written to {out_dir}. Set, for the workers and the API:")
    click.echo(f"  C2PA_SIGNING_KEY_PATH={chain.signing_key}")
    click.echo(f"  C2PA_CERT_CHAIN_PATH={chain.cert_chain}")
    click.echo(f"  C2PA_TRUST_ANCHORS_PATH={chain.root_cert}")


@group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def verify(file: Path, as_json: bool) -> None:
    """Check an image file against every licence (full detail, private licences included)."""
    from .operations import certificate_url, verify_file
    from .serials import format_serial

    verdict, licence = verify_file(file.read_bytes())
    result = verdict.as_dict()
    result.pop("record", None)
    if verdict.serial is not None:
        result["serial"] = format_serial(verdict.serial)
    if licence is not None:
        result["licence"] = {
            "certificate_url": certificate_url(licence.serial),
            "generation_id": licence.generation_id,
            "artist": licence.artist_name,
            "style": licence.style_title,
            "buyer_id": licence.buyer_id,
            "terms_version": licence.terms_version,
            "is_public": licence.generation.is_public,
        }
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{verdict.verdict} (confidence {verdict.confidence:.2f}, method {verdict.method or '-'})")
    if licence is not None:
        info = result["licence"]
        click.echo(
            f"licence {result['serial']}: '{info['style']}' by {info['artist']}, generation "
            f"{info['generation_id']}, terms {info['terms_version']} — {info['certificate_url']}"
        )
    if verdict.c2pa:
        click.echo(f"C2PA: {verdict.c2pa['validation_state']} (trusted: {verdict.c2pa['trusted']})")
