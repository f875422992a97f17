"""Run directory → verified bundle directory, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rnnqa.bundle_format import (
    BUNDLE_FILES,
    CONFORMANCE_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    HF_TOKENIZER_FILE,
    LEGACY_THRESHOLD,
    MANIFEST_FILE,
    ONNX_FILE,
    OPTIONAL_FILES,
    TORCHSCRIPT_FILE,
    VOCAB_FILE,
    graph_contract,
)
from rnnqa.data.table import load_qa_csv
from rnnqa.data.text import Tokenizer
from rnnqa.errors import DataError, ExportError
from rnnqa.data.tokenizer import DeclaredTokenizer
from rnnqa.export.conformance import conformance
from rnnqa.export.hf_tokenizer import hf_tokenizer_files
from rnnqa.export.graphs import DEFAULT_OPSET, export_onnx, export_torchscript
from rnnqa.export.validate import DEFAULT_ATOL, ParityReport, parity_batches, validate_parity
from rnnqa.fileio import atomic_directory, sha256_file, write_json
from rnnqa.train.run import load_run


@dataclass
class ExportResult:
    bundle_dir: Path
    manifest: dict
    parity: ParityReport


def export_bundle(
    run_dir: str | Path,
    bundle_dir: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    atol: float = DEFAULT_ATOL,
    threshold: float | None = None,
    force: bool = False,
    hf_tokenizer: bool = True,
) -> ExportResult:
    """Export the run at ``run_dir`` as a bundle at ``bundle_dir``, validated for parity.

    ``threshold`` (None: the run's own, from ``qa-train --threshold``) is written into the manifest.
    ``hf_tokenizer``: also write ``tokenizer.json`` and ``tokenizer_config.json`` (declared tokenizers
    only; ~8 surface words per token: 0.3 MB for the bundled dataset, 8 MB for 50k words).

    Everything is written into a staging directory first; only a bundle that passed validation is
    renamed into place, so a failed or refused export leaves any previous bundle untouched.

    Raises:
        ExportError: ``bundle_dir`` exists without ``force``, bad settings, or the export failed.
        ParityError: an exported graph disagrees with the eager model.
        RunError: ``run_dir`` is missing or incomplete.
    """
    if not atol > 0:
        raise ExportError(f"atol must be positive, got {atol}")
    run = load_run(run_dir)
    if threshold is None:
        threshold = run_threshold(run.config)
    if not 0.0 <= threshold <= 1.0:
        raise ExportError(f"threshold must be in [0, 1], got {threshold}")
    questions = _training_questions(run.config, run.vocab.tokenizer)
    config = run.model.config
    with atomic_directory(bundle_dir, overwrite=force, error=ExportError) as tmp:
        facts = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model": config.to_json(),
            **graph_contract(config.num_answers),
            "max_len": config.max_len,
            "threshold": threshold,
        }
        export_torchscript(run.model, tmp / TORCHSCRIPT_FILE)
        facts["onnx"] = export_onnx(run.model, tmp / ONNX_FILE, opset, metadata=facts)
        write_json(tmp / VOCAB_FILE, run.vocab.to_json(), compact=True)
        batches = parity_batches(run.vocab, questions, config.max_len)
        report = validate_parity(run.model, batches, tmp / TORCHSCRIPT_FILE, tmp / ONNX_FILE, atol)
        write_json(tmp / CONFORMANCE_FILE,
                   conformance(run.vocab, config.max_len, threshold, tmp / ONNX_FILE, questions))
        if hf_tokenizer and isinstance(run.vocab.tokenizer, DeclaredTokenizer):
            for name, content in hf_tokenizer_files(run.vocab, config.max_len).items():
                write_json(tmp / name, content, compact=name == HF_TOKENIZER_FILE)
        manifest = {
            **facts,
            "tokenizer_version": run.vocab.tokenizer.version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": {name: sha256_file(tmp / name) for name in BUNDLE_FILES + OPTIONAL_FILES
                      if name != MANIFEST_FILE and (tmp / name).exists()},
            "versions": _versions(),
            "parity": report.to_json(),
            "training": {k: run.config.get(k) for k in ("train", "device", "epochs_run", "data")},
        }
        write_json(tmp / MANIFEST_FILE, manifest)
    return ExportResult(Path(bundle_dir), manifest, report)


def run_threshold(config: dict) -> float:
    """The threshold a run recorded (``qa-train --threshold``); runs saved before it did get
    the one qa-export wrote for them then, so they answer as they did.

    Raises:
        ExportError: the recorded threshold is not a number.
    """
    value = config.get("train", {}).get("threshold", LEGACY_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportError(f"the run's threshold must be a number, got {value!r}")
    return float(value)


def _training_questions(config: dict, tokenizer: Tokenizer) -> list[str]:
    """The run's training questions when its CSV is still readable, else none (random ids remain)."""
    source = config.get("data")
    if not source or not Path(source).is_file():
        return []
    try:
        return load_qa_csv(source, tokenizer).questions
    except DataError:
        return []


def _versions() -> dict:
    versions = {}
    for package in ("rnnqa", "torch", "onnx", "onnxruntime", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def read_manifest(bundle_dir: str | Path) -> dict:
    return json.loads((Path(bundle_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
