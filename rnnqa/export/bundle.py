"""Run directory → verified bundle directory, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import onnx

from rnnqa.bundle_format import (
    BUNDLE_FILES,
    CONFORMANCE_FILE,
    FORMAT_NAME,
    GATE_FILE,
    HF_TOKENIZER_FILE,
    LEGACY_THRESHOLD,
    MANIFEST_FILE,
    ONNX_FILE,
    OPTIONAL_FILES,
    ORT_CONFIG_FILE,
    ORT_FILE,
    SINGLE_FILE,
    TORCHSCRIPT_FILE,
    VOCAB_FILE,
    format_version,
    graph_contract,
)
from rnnqa.data.table import QAPairs, load_qa_csv
from rnnqa.data.text import Tokenizer
from rnnqa.errors import DataError, ExportError
from rnnqa.data.tokenizer import DeclaredTokenizer
from rnnqa.eval.questions import DEFAULT_NEAR_MISS, DEFAULT_OOD, read_near_misses, read_questions
from rnnqa.export.conformance import conformance
from rnnqa.export.edge import QUANTIZE_CHOICES, accuracy_gate, convert_to_ort, quantize_int8
from rnnqa.export.hf_tokenizer import hf_tokenizer_files
from rnnqa.export.single import gate_table, single_question_graph
from rnnqa.export.graphs import DEFAULT_OPSET, export_onnx, export_torchscript, onnx_weight_names
from rnnqa.export.validate import DEFAULT_ATOL, ParityReport, parity_batches, validate_parity
from rnnqa.fileio import atomic_directory, sha256_file, write_json
from rnnqa.runtime.gate import SubstitutionGate
from rnnqa.signing import check_private_key, sign_bundle
from rnnqa.train.run import load_run


# qa-export writes model_single.onnx by default up to this much weight. It saves a fixed ~20 µs per answer
# (onnxruntime's cost for the batch graph's extra nodes) and holds the weights a second time: 1.9× faster
# answers for the default model (0.3 MB), 5% for a 32 MB one, whose qa-ask then needed 100 MiB more
# (BENCHMARKS.md, "Edge bundles").
SINGLE_GRAPH_MAX_BYTES = 4 * 1024 * 1024


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
    sign_key: str | Path | None = None,
    quantize: str | None = None,
    ort: bool = False,
    val_csv: str | Path | None = None,
    ood: str | Path | None = None,
    near_miss: str | Path | None = None,
    single_graph: bool | None = None,
) -> ExportResult:
    """Export the run at ``run_dir`` as a bundle at ``bundle_dir``, validated for parity.

    ``threshold`` (None: the run's own, from ``qa-train --threshold``) is written into the manifest.
    ``hf_tokenizer``: also write ``tokenizer.json`` and ``tokenizer_config.json`` (declared tokenizers
    only; ~8 surface words per token: 0.3 MB for the bundled dataset, 8 MB for 50k words).

    ``sign_key``: an ECDSA private key (PEM) to sign the finished bundle with (``model.sig``, every
    file, the manifest included; needs the ``sign`` extra): see :func:`rnnqa.signing.sign_bundle`.

    ``quantize="int8"``: the bundle's ``model.onnx`` is the int8 form of the parity-checked float graph
    (:mod:`rnnqa.export.edge`; no TorchScript file), and lands only if its accuracy gate passes on the
    training questions and ``val_csv``'s, and only if it refuses as the float graph does (within
    :data:`~rnnqa.export.edge.MAX_REFUSAL_POINTS`) the out-of-domain questions ``ood`` (one per line) and the
    near misses ``near_miss`` (default: the sets shipped with the bundled dataset,
    :data:`~rnnqa.eval.questions.DEFAULT_OOD` and :data:`~rnnqa.eval.questions.DEFAULT_NEAR_MISS`); the
    manifest records the variant, the settings and the figures.
    ``ort``: also write ``model.ort`` and ``required_operators.config`` (for onnxruntime reduced builds).
    ``single_graph``: write ``model_single.onnx`` (and ``gate.json`` for a gated model), what
    ``QAModel.answer`` runs; None: for fp32 models whose weights take at most :data:`SINGLE_GRAPH_MAX_BYTES`.

    Everything is written into a staging directory first; only a bundle that passed validation (and,
    with ``sign_key``, was signed and verified) is renamed into place, so a failed or refused export
    leaves any previous bundle untouched and an unsigned or half-signed bundle never lands.

    Raises:
        ExportError: ``bundle_dir`` exists without ``force``, bad settings, or the export failed.
        ParityError: an exported graph disagrees with the eager model.
        ExportError: also when the int8 graph fails its accuracy gate (the figures are in the message).
        DataError: ``val_csv``, ``ood`` or ``near_miss`` is unreadable or malformed.
        RunError: ``run_dir`` is missing or incomplete.
        ConfigError: ``sign_key`` is not a usable private key, or the ``sign`` extra is missing.
    """
    if not atol > 0:
        raise ExportError(f"atol must be positive, got {atol}")
    if sign_key is not None:
        check_private_key(sign_key)  # a bad key fails before any work
    run = load_run(run_dir)
    if threshold is None:
        threshold = run_threshold(run.config)
    if not 0.0 <= threshold <= 1.0:
        raise ExportError(f"threshold must be in [0, 1], got {threshold}")
    if quantize is not None and quantize not in QUANTIZE_CHOICES:
        raise ExportError(f"quantize must be one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
    if single_graph and quantize is not None:
        raise ExportError("the single-question graph is fp32: it cannot go with --quantize")
    if single_graph is None:
        single_graph = quantize is None and _weight_bytes(run.model) <= SINGLE_GRAPH_MAX_BYTES
    if quantize is None and (val_csv is not None or ood is not None or near_miss is not None):
        raise ExportError("val_csv, ood and near_miss are for the accuracy gate of quantize")
    probes = None if quantize is None else {
        "out-of-domain": read_questions(DEFAULT_OOD if ood is None else ood),
        "near misses": read_near_misses(DEFAULT_NEAR_MISS if near_miss is None else near_miss)[0]}
    training = _training_pairs(run.config, run.vocab.tokenizer)
    questions = [] if training is None else training.questions
    config = run.model.config
    with atomic_directory(bundle_dir, overwrite=force, error=ExportError) as tmp:
        facts = {
            "format": FORMAT_NAME,
            "format_version": format_version(single_graph),
            "model": config.to_json(),
            **graph_contract(config.num_answers),
            "max_len": config.max_len,
            "threshold": threshold,
        }
        export_torchscript(run.model, tmp / TORCHSCRIPT_FILE)
        facts["onnx"] = export_onnx(run.model, tmp / ONNX_FILE, opset, metadata=facts)
        write_json(tmp / VOCAB_FILE, run.vocab.to_json(), compact=True)
        gate = _write_single(tmp, run.model, opset) if single_graph else None
        batches = parity_batches(run.vocab, questions, config.max_len, content=gate.content if gate else ())
        report = validate_parity(run.model, batches, tmp / TORCHSCRIPT_FILE, tmp / ONNX_FILE, atol,
                                 single_path=tmp / SINGLE_FILE if single_graph else None, gate=gate)
        edge = {} if quantize is None else _quantize(tmp, run, training, val_csv, threshold, probes)
        if ort:
            convert_to_ort(tmp / ONNX_FILE, tmp / ORT_FILE, tmp / ORT_CONFIG_FILE)
        write_json(tmp / CONFORMANCE_FILE,
                   conformance(run.vocab, config.max_len, threshold, tmp / ONNX_FILE, questions))
        if hf_tokenizer and isinstance(run.vocab.tokenizer, DeclaredTokenizer):
            for name, content in hf_tokenizer_files(run.vocab, config.max_len).items():
                write_json(tmp / name, content, compact=name == HF_TOKENIZER_FILE)
        manifest = {
            **facts,
            **edge,
            "tokenizer_version": run.vocab.tokenizer.version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": {name: sha256_file(tmp / name) for name in BUNDLE_FILES + OPTIONAL_FILES
                      if name != MANIFEST_FILE and (tmp / name).exists()},
            "versions": _versions(),
            "parity": report.to_json(),
            "training": {k: run.config.get(k) for k in ("train", "device", "epochs_run", "data")},
        }
        write_json(tmp / MANIFEST_FILE, manifest)
        if sign_key is not None:
            sign_bundle(tmp, sign_key)
    return ExportResult(Path(bundle_dir), manifest, report)


def _weight_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _write_single(tmp: Path, model, opset: int) -> SubstitutionGate | None:
    """Write model_single.onnx, and gate.json for a gated model; return the gate as the runtime reads it."""
    try:
        proto = single_question_graph(model, opset)
    except (ValueError, onnx.checker.ValidationError) as exc:
        raise ExportError(f"the single-question graph failed its check: {exc}") from exc
    onnx.save(proto, str(tmp / SINGLE_FILE))
    table = gate_table(model)
    if table is None:
        return None
    write_json(tmp / GATE_FILE, table, compact=True)
    return SubstitutionGate.from_json(table, model.config.vocab_size, model.config.num_answers)


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


def _training_pairs(config: dict, tokenizer: Tokenizer) -> QAPairs | None:
    """The run's training pairs when its CSV is still readable, else None (parity keeps its random ids)."""
    source = config.get("data")
    if not source or not Path(source).is_file():
        return None
    try:
        return load_qa_csv(source, tokenizer)
    except DataError:
        return None


def _quantize(tmp: Path, run, training: QAPairs | None, val_csv: str | Path | None, threshold: float,
              probes: dict[str, list[str]]) -> dict:
    """Replace ``tmp``'s float graph by its int8 form if the accuracy gate passes; the manifest's entries.

    Raises:
        ExportError: the gate failed (its figures in the message), or it has no training questions.
        DataError: ``val_csv`` is unreadable.
    """
    float_graph = tmp / "model.fp32.onnx"  # a working file: never part of the bundle
    (tmp / ONNX_FILE).replace(float_graph)
    settings = quantize_int8(float_graph, tmp / ONNX_FILE, onnx_weight_names(run.model))
    val = None if val_csv is None else load_qa_csv(val_csv, run.vocab.tokenizer)
    report = accuracy_gate(float_graph, tmp / ONNX_FILE, run.vocab, run.model.config.max_len, threshold,
                           ([], []) if training is None else (training.questions, training.answers),
                           None if val is None else (val.questions, val.answers), probes)
    float_graph.unlink()
    (tmp / TORCHSCRIPT_FILE).unlink()  # an edge bundle carries no PyTorch weights
    if not report.passed:
        raise ExportError(f"the int8 graph failed its accuracy gate, so no bundle was written: {report.summary()}")
    return {"variant": "int8", "quantization": settings, "accuracy_gate": report.to_json()}


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
