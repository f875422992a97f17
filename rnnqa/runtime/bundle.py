"""Load and check a bundle before any onnxruntime session exists. JSON and ONNX only, nothing else."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rnnqa.bundle_format import (
    FORMAT_FILES,
    FORMAT_OPTIONAL_FILES,
    FORMAT_NAME,
    GATE_FILE,
    INPUT_NAMES,
    MANIFEST_FILE,
    ONNX_FILE,
    ORT_FILE,
    SIGNATURE_FILE,
    SINGLE_FILE,
    SINGLE_OUTPUT_NAMES,
    SINGLE_OUTPUT_NAMES_4,
    VARIANTS,
    VOCAB_FILE,
    graph_contract,
)
from rnnqa.data.text import Vocabulary
from rnnqa.errors import BundleError, ConfigError
from rnnqa.runtime.gate import SubstitutionGate
from rnnqa.runtime.onnx_inspect import GraphInterface, ProtobufError, inspect_onnx
from rnnqa.runtime.signature import PublicKey, resolve_public_key, verify_signature

_INT64, _FLOAT = 7, 1  # ONNX TensorProto element types
_ELEM_TYPES = {"int64": _INT64, "float32": _FLOAT}
MAX_FILE_BYTES = 512 * 1024 * 1024  # refuse absurd files before reading them


@dataclass(frozen=True)
class Bundle:
    """A bundle whose every check passed: its directory, manifest, vocabulary and ONNX bytes, and the
    fingerprint of the key its signature was verified with (None: loaded without a key)."""

    path: Path
    manifest: dict
    vocab: Vocabulary
    onnx_bytes: bytes
    signed_by: str | None = None
    ort_bytes: bytes | None = None  # model.ort, exactly as hashed, in bundles exported with --ort
    single_bytes: bytes | None = None  # model_single.onnx (fp32 bundles since 2026-11-30)
    gate: SubstitutionGate | None = None  # gate.json, beside model_single.onnx for gated models

    @property
    def variant(self) -> str:
        """``fp32``, or ``int8`` for a quantized bundle (qa-export --quantize int8)."""
        return self.manifest.get("variant", "fp32")

    @property
    def max_len(self) -> int:
        return self.manifest["max_len"]

    @property
    def threshold(self) -> float:
        return self.manifest["threshold"]


def load_checked(bundle_dir: str | Path, *, public_key: str | os.PathLike | PublicKey | None = None
                 ) -> tuple[Bundle, PublicKey | None]:
    """:func:`load_bundle` with the key :func:`~rnnqa.runtime.signature.resolve_public_key` gives for
    ``public_key`` (default: ``$RNNQA_PUBLIC_KEY``'s, else none): the bundle and that key. QAModel.load and
    the one-shot ``qa-ask`` read a bundle this way, and only this way.

    Raises:
        BundleError: the bundle fails a check of load_bundle, or a key needs the ``sign`` extra.
        ConfigError: the key (or ``$RNNQA_PUBLIC_KEY``'s) cannot be read as an ECDSA public key.
    """
    key = resolve_public_key(public_key)
    return load_bundle(bundle_dir, public_key=key), key


def load_bundle(bundle_dir: str | Path, *, public_key: PublicKey | None = None) -> Bundle:
    """Read ``bundle_dir`` and check it: layout, format version, sha256 of every file, with ``public_key``
    its signature over exactly the files read, then vocabulary against manifest and graph, graph
    contract, no external data. Without a key a signature file is allowed and not read.

    Raises:
        BundleError: naming the file at fault and why.
    """
    root = Path(bundle_dir)
    if root.is_symlink() or not root.is_dir():
        raise BundleError(str(root), "not a bundle directory (export one with qa-export)")
    present = _regular_files(root)
    manifest_bytes = (root / MANIFEST_FILE).read_bytes()
    manifest = _read_manifest(manifest_bytes)
    _check_layout(present - {SIGNATURE_FILE}, tuple(manifest["files"]) + (MANIFEST_FILE,))
    contents = {name: _read_checked(root, name, manifest["files"]) for name in manifest["files"]}
    if public_key is not None:  # the bytes read above, not the files again: what is verified is what is used
        verify_signature(root, {**contents, MANIFEST_FILE: manifest_bytes}, public_key)
    try:
        vocab = Vocabulary.from_json(json.loads(contents[VOCAB_FILE].decode("utf-8"), parse_float=_integers_only,
                                                parse_constant=_not_json))
    except (ValueError, ConfigError, RecursionError) as exc:
        raise BundleError(VOCAB_FILE, f"not a valid vocabulary: {exc}") from exc
    _check_agreement(manifest, vocab, contents[ONNX_FILE])
    single = contents.get(SINGLE_FILE)
    gate = _check_single(manifest, vocab, single, contents.get(GATE_FILE))
    return Bundle(root, manifest, vocab, contents[ONNX_FILE], public_key.fingerprint if public_key else None,
                  contents.get(ORT_FILE), single, gate)


def _integers_only(literal: str) -> None:
    """vocab.json holds no number but integers written as such: 97.0 and 1e2 are refused, in every runtime
    (docs/tokenizer.md), since some JSON readers cannot tell 97.0 from 97 and others refuse it as an integer."""
    raise ValueError(f"the number {literal} is not written as an integer (every number in {VOCAB_FILE} is one)")


def _not_json(literal: str) -> None:
    """NaN, Infinity and -Infinity, which Python's json reads and JSON (and JavaScript) has not."""
    raise ValueError(f"{literal} is not JSON")


def _regular_files(root: Path) -> set[str]:
    present = {p.name: p for p in root.iterdir()}
    for name, path in sorted(present.items()):
        if path.is_symlink():
            raise BundleError(name, "is a symbolic link; a bundle holds regular files only")
        if not path.is_file():
            raise BundleError(name, "is not a regular file")
    if MANIFEST_FILE not in present:
        raise BundleError(MANIFEST_FILE, "missing — the bundle is incomplete")
    return set(present)


def _check_layout(present: set[str], files: tuple[str, ...]) -> None:
    for name in sorted(present - set(files)):
        raise BundleError(name, f"unexpected file in the bundle (a bundle holds exactly {', '.join(files)})")
    missing = [name for name in files if name not in present]
    if missing:
        raise BundleError(missing[0], "missing — the bundle is incomplete")


def _read_manifest(raw: bytes) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(MANIFEST_FILE, f"not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(MANIFEST_FILE, f"not an {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if type(version) is not int or version not in FORMAT_FILES:  # not 3.0, not true, not [3]
        *first, last = map(str, FORMAT_FILES)
        readable = f"{', '.join(first)} and {last}"
        raise BundleError(MANIFEST_FILE, f"unsupported format version {version!r} (this rnnqa reads "
                                         f"{readable}; export the run again with this qa-export)")
    variant = manifest.get("variant", "fp32")
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise BundleError(MANIFEST_FILE, f"unknown variant {variant!r} (this rnnqa reads {', '.join(VARIANTS)})")
    expected = sorted(set(FORMAT_FILES[version]) - {MANIFEST_FILE} - set(VARIANTS[variant]))
    optional = FORMAT_OPTIONAL_FILES[version]
    files = manifest.get("files")
    if not isinstance(files, dict) or sorted(set(files) - set(optional)) != expected:
        also = f" (and {', '.join(optional)} when present)" if optional else ""
        raise BundleError(MANIFEST_FILE, f"'files' must list the sha256 of exactly {', '.join(expected)}{also}")
    for key, kind in (("max_len", int), ("threshold", (int, float)), ("model", dict)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise BundleError(MANIFEST_FILE, f"missing or invalid {key!r}")
    if manifest["max_len"] < 1 or not 0.0 <= manifest["threshold"] <= 1.0:
        raise BundleError(MANIFEST_FILE, "'max_len' must be ≥ 1 and 'threshold' in [0, 1]")
    questions = manifest["model"].get("gate_questions", 0)
    if type(questions) is not int or questions < 0:  # not 5.0: read as "gated" by JSON.parse, "no gate" here
        raise BundleError(MANIFEST_FILE, "'model.gate_questions' must be an integer ≥ 0 (0: no substitution gate)")
    return manifest


def _read_checked(root: Path, name: str, hashes: dict) -> bytes:
    path = root / name
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BundleError(name, f"larger than {MAX_FILE_BYTES >> 20} MiB")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != hashes[name]:
        raise BundleError(name, "sha256 mismatch — the bundle was modified or is incomplete")
    return data


def _inspect(name: str, data: bytes) -> GraphInterface:
    """The interface of the graph file ``name``, read without onnxruntime: refused when it is not ONNX or not
    self-contained."""
    try:
        graph = inspect_onnx(data)
    except ProtobufError as exc:
        raise BundleError(name, f"not an ONNX model: {exc}") from exc
    if graph.external_tensors:
        raise BundleError(name, f"{graph.external_tensors} tensor(s) reference external data; "
                                "a bundle's graph must be self-contained")
    return graph


def _check_agreement(manifest: dict, vocab: Vocabulary, onnx_bytes: bytes) -> None:
    model = manifest["model"]
    if model.get("vocab_size") != len(vocab) or model.get("num_answers") != len(vocab.answers):
        raise BundleError(VOCAB_FILE, f"{len(vocab)} tokens / {len(vocab.answers)} answers, but the manifest's "
                                      f"model has {model.get('vocab_size')} / {model.get('num_answers')}")
    graph = _inspect(ONNX_FILE, onnx_bytes)
    inputs = [(name, elem) for name, elem, _ in graph.inputs]
    if inputs != [(INPUT_NAMES[0], _INT64), (INPUT_NAMES[1], _INT64)]:
        raise BundleError(ONNX_FILE, f"graph inputs are {inputs}, expected int64 {', '.join(INPUT_NAMES)}")
    answers = len(vocab.answers)
    expected = [(o["name"], _ELEM_TYPES[o["dtype"]], o["shape"]) for o in graph_contract(answers)["outputs"]]
    if graph.outputs != expected:
        raise BundleError(ONNX_FILE, f"graph outputs are {graph.outputs}, expected {expected} "
                                     f"({answers} answers, to match {VOCAB_FILE})")


def _check_single(manifest: dict, vocab: Vocabulary, single: bytes | None, gate: bytes | None) -> SubstitutionGate | None:
    """model_single.onnx's interface, and gate.json present exactly when the model has a gate."""
    if single is None:
        if gate is not None:
            raise BundleError(GATE_FILE, f"present without {SINGLE_FILE}")
        return None
    graph = _inspect(SINGLE_FILE, single)
    outputs = ([(SINGLE_OUTPUT_NAMES_4[0], _INT64, [1, 1]), (SINGLE_OUTPUT_NAMES_4[1], _FLOAT, [1, 1])]
               if manifest["format_version"] == 4 else [(SINGLE_OUTPUT_NAMES[0], _FLOAT, [1, len(vocab.answers)])])
    expected = ([(INPUT_NAMES[0], _INT64, ["seq", 1])], outputs)
    if (graph.inputs, graph.outputs) != expected:
        raise BundleError(SINGLE_FILE, f"graph inputs {graph.inputs} and outputs {graph.outputs}, expected "
                                       f"{expected[0]} and {expected[1]}")
    gated = manifest["model"].get("gate_questions", 0) > 0
    if gate is None:
        if gated:
            raise BundleError(GATE_FILE, f"missing: the model has a substitution gate, which {SINGLE_FILE} leaves "
                                         "to the runtime")
        return None
    if not gated:
        raise BundleError(GATE_FILE, "present, but the manifest's model has no substitution gate")
    try:
        return SubstitutionGate.from_json(json.loads(gate.decode("utf-8")), len(vocab), len(vocab.answers))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(GATE_FILE, f"not a valid gate table: {exc}") from exc
