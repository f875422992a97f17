"""``qa-sign``: sign an existing bundle (needs the ``sign`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from rnnqa.bundle_format import SIGNATURE_FILE
from rnnqa.cli_common import report_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--key", "private_key", required=True, type=click.Path(path_type=Path),
              help="Unencrypted PEM ECDSA private key (P-256: openssl ecparam -name prime256v1 -genkey -noout).")
@report_errors
def main(bundle_dir: Path, private_key: Path) -> None:
    """Sign BUNDLE_DIR: write model.sig (OpenSSF model signing v1.0) over every file, the manifest included.

    The bundle must load first. Runtimes given the public key (qa-ask --public-key, qa-serve --public-key,
    QAModel.load(..., public_key=...), or RNNQA_PUBLIC_KEY) then refuse it once any file changes.
    """
    from rnnqa.signing import sign_bundle

    public = sign_bundle(bundle_dir, private_key)
    click.echo(f"signed {bundle_dir} ({SIGNATURE_FILE}, key sha256 {public.fingerprint[:16]}…)")
