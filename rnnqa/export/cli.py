"""``qa-export``: turn a training run into a verified, deployable bundle."""

from __future__ import annotations

from pathlib import Path

import click

from rnnqa.bundle_format import MANIFEST_FILE
from rnnqa.cli_common import report_errors

DEFAULT_RUN_DIR = Path("artifacts/run")
DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("run_dir", required=False, default=DEFAULT_RUN_DIR, type=click.Path(path_type=Path))
@click.option("--out", "bundle_dir", default=DEFAULT_BUNDLE_DIR, type=click.Path(path_type=Path),
              help="Bundle directory to write.")
@click.option("--opset", default=17, type=int, help="ONNX opset (14-20; 17 loads on onnxruntime >= 1.13).")
@click.option("--atol", default=1e-5, type=float, help="Parity tolerance on logits.")
@click.option("--threshold", type=float,
              help='Confidence below which the runtime answers "I don\'t know" [default: the run\'s, '
                   'from qa-train --threshold].')
@click.option("--force", is_flag=True, help="Replace an existing bundle (only once the new one validates).")
@click.option("--hf-tokenizer/--no-hf-tokenizer", default=True,
              help="Also write tokenizer.json for Hugging Face tokenizers (about 8 surface words per token).")
@report_errors
def main(run_dir: Path, bundle_dir: Path, opset: int, atol: float, threshold: float | None, force: bool,
         hf_tokenizer: bool) -> None:
    """Export RUN_DIR (default artifacts/run) as TorchScript + ONNX + vocab + manifest, checked for parity."""
    from rnnqa.export.bundle import export_bundle

    result = export_bundle(run_dir, bundle_dir, opset=opset, atol=atol, threshold=threshold, force=force,
                           hf_tokenizer=hf_tokenizer)
    click.echo(result.parity.summary())
    click.echo(f"wrote {bundle_dir} ({', '.join(sorted(result.manifest['files']))}, {MANIFEST_FILE})")
