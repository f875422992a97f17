"""``qa-export``: turn a training run into a verified, deployable bundle."""

from __future__ import annotations

from pathlib import Path

import click

from rnnqa.bundle_format import MANIFEST_FILE, SIGNATURE_FILE
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
@click.option("--sign-key", type=click.Path(path_type=Path),
              help="Sign the bundle (model.sig) with this PEM ECDSA private key before it lands (needs rnnqa[sign]).")
@click.option("--quantize", type=click.Choice(["int8"]),
              help="Write the int8 graph (dynamic quantization) if it passes the accuracy gate; no TorchScript.")
@click.option("--val-csv", type=click.Path(dir_okay=False, path_type=Path),
              help="With --quantize: validation questions the accuracy gate also checks.")
@click.option("--ood", "ood_path", type=click.Path(dir_okay=False, path_type=Path),
              help='With --quantize: out-of-domain questions (one per line) the int8 graph must refuse as the '
                   'float one does [default: rnnqa/data/ood_questions.txt].')
@click.option("--near-miss", "near_path", type=click.Path(dir_okay=False, path_type=Path),
              help='With --quantize: near misses (question,kind CSV or one per line) the int8 graph must refuse '
                   'as the float one does [default: rnnqa/data/default_near_miss.csv].')
@click.option("--ort", is_flag=True, help="Also write model.ort and required_operators.config (reduced builds).")
@click.option("--single-graph/--no-single-graph", default=None,
              help="Write model_single.onnx (and gate.json), the graph QAModel.answer runs [default: for fp32 "
                   "models whose weights take at most 4 MiB: beyond, it saves under a tenth of an answer's time "
                   "and holds the weights twice].")
@report_errors
def main(run_dir: Path, bundle_dir: Path, opset: int, atol: float, threshold: float | None, force: bool,
         hf_tokenizer: bool, sign_key: Path | None, quantize: str | None, val_csv: Path | None,
         ood_path: Path | None, near_path: Path | None, ort: bool, single_graph: bool | None) -> None:
    """Export RUN_DIR (default artifacts/run) as TorchScript + ONNX + vocab + manifest, checked for parity."""
    from rnnqa.export.bundle import export_bundle

    for option, value in (("--val-csv", val_csv), ("--ood", ood_path), ("--near-miss", near_path)):
        if value is not None and quantize is None:
            raise click.UsageError(f"{option} is for the accuracy gate of --quantize")

    result = export_bundle(run_dir, bundle_dir, opset=opset, atol=atol, threshold=threshold, force=force,
                           hf_tokenizer=hf_tokenizer, sign_key=sign_key, quantize=quantize, ort=ort,
                           val_csv=val_csv, ood=ood_path, near_miss=near_path, single_graph=single_graph)
    click.echo(result.parity.summary())
    if "accuracy_gate" in result.manifest:
        gate = result.manifest["accuracy_gate"]
        refused = "".join(f", {name} refused {r['fp32']:.3f} → {r['int8']:.3f}" for name, r in gate["refusals"].items())
        click.echo(f"int8 accuracy gate passed: top-1 agreement {gate['agreement']:.4f}, accuracy drop "
                   f"{gate['drop_points']:.2f} points, {gate['train_lost']} training question(s) lost{refused}")
    signed = f", {SIGNATURE_FILE}" if sign_key is not None else ""
    click.echo(f"wrote {bundle_dir} ({', '.join(sorted(result.manifest['files']))}, {MANIFEST_FILE}{signed})")
