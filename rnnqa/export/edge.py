"""Edge variants of a bundle's graph: int8 by dynamic quantization behind an accuracy gate, and ORT format.

``quantize_int8`` uses onnxruntime's own dynamic quantization: the embedding ``Gather`` and the output layer
become int8 weights with a scale (the recurrent cell stays float: onnxruntime does not quantize ``GRU``,
``LSTM`` or ``RNN`` dynamically). Only nodes that read a learned weight are quantized: the substitution
gate's tables are ``Gather`` inputs too, and its float count table rounded to int8 (3 → 2.992) never equals
a count again, so the gate stopped closing and near misses were answered. ``accuracy_gate`` compares the
quantized graph with the float one it came from before the bundle may land: the answers to the training
(and any validation) questions, and the refusals of out-of-domain questions and near misses. ``convert_to_ort``
runs ``python -m onnxruntime.tools.convert_onnx_models_to_ort`` with type reduction, for onnxruntime's
reduced (minimal) builds.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rnnqa.bundle_format import ANSWER_INDEX, CONFIDENCE, INPUT_NAMES
from rnnqa.data.padding import pad_rows
from rnnqa.data.text import Vocabulary
from rnnqa.errors import ExportError

QUANTIZE_CHOICES = ("int8",)
# What quantize_int8 asks onnxruntime for, recorded in the manifest.
INT8_SETTINGS = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8",
                 "op_types": ["Gather", "Gemm", "MatMul"], "per_channel": False, "reduce_range": False}
MIN_AGREEMENT = 0.99  # top-1 agreement with the float graph, over every gate question
MAX_DROP_POINTS = 1.0  # accuracy drop allowed on any question set, in percentage points
MAX_REFUSAL_POINTS = 1.0  # how far the share answered "I don't know" may move on any probe set, either way
CONVERT_TIMEOUT_S = 600
GATE_CHUNK = 1024  # questions per onnxruntime call: the graph holds (chunk, answers) floats at once


@dataclass(frozen=True)
class GateReport:
    """The accuracy gate's figures, as the manifest records them."""

    questions: int  # training + validation questions compared
    agreement: float  # share of them answered as the float graph does: the same top-1, known or not alike
    train_accuracy_fp32: float  # "right": the correct answer, with a confidence at the bundle's threshold
    train_accuracy_int8: float
    train_lost: int  # training questions the float graph answers right and the int8 one does not
    val_accuracy_fp32: float | None
    val_accuracy_int8: float | None
    # per probe set ("out-of-domain", "near misses"): {"questions": n, "fp32": share refused, "int8": share refused}
    refusals: dict[str, dict] = field(default_factory=dict)

    @property
    def drop_points(self) -> float:
        drops = [self.train_accuracy_fp32 - self.train_accuracy_int8]
        if self.val_accuracy_fp32 is not None:
            drops.append(self.val_accuracy_fp32 - self.val_accuracy_int8)
        return 100.0 * max(drops)

    @property
    def refusal_points(self) -> float:
        """The largest move, in percentage points, of the share refused on any probe set (0 with none)."""
        return max((100.0 * abs(r["int8"] - r["fp32"]) for r in self.refusals.values()), default=0.0)

    @property
    def passed(self) -> bool:
        return (self.train_lost == 0 and self.agreement >= MIN_AGREEMENT and self.drop_points <= MAX_DROP_POINTS
                and round(self.refusal_points, 6) <= MAX_REFUSAL_POINTS)

    def to_json(self) -> dict:
        return {**asdict(self), "drop_points": round(self.drop_points, 4),
                "refusal_points": round(self.refusal_points, 4), "passed": self.passed,
                "limits": {"min_agreement": MIN_AGREEMENT, "max_drop_points": MAX_DROP_POINTS, "train_lost": 0,
                           "max_refusal_points": MAX_REFUSAL_POINTS}}

    def summary(self) -> str:
        text = (f"top-1 agreement {self.agreement:.4f} on {self.questions} question(s) (≥ {MIN_AGREEMENT}), "
                f"training accuracy {self.train_accuracy_fp32:.4f} → {self.train_accuracy_int8:.4f} "
                f"({self.train_lost} training question(s) lost, 0 allowed)")
        if self.val_accuracy_fp32 is not None:
            text += f", validation accuracy {self.val_accuracy_fp32:.4f} → {self.val_accuracy_int8:.4f}"
        text += f", drop {self.drop_points:.2f} points (≤ {MAX_DROP_POINTS})"
        for name, r in self.refusals.items():
            text += (f"; {name} answered \"I don't know\" {r['fp32']:.3f} → {r['int8']:.3f} of {r['questions']}")
        if self.refusals:
            text += f" (moves ≤ {MAX_REFUSAL_POINTS} point allowed)"
        return text


def weight_nodes(graph: Path, weights: Collection[str]) -> list[str]:
    """The nodes of the graph at ``graph`` that dynamic quantization may touch: those of its op types that
    read one of ``weights`` (initializer names of learned weights), never a table such as the gate's."""
    import onnx

    proto = onnx.load(str(graph), load_external_data=False)
    return [node.name for node in proto.graph.node
            if node.op_type in INT8_SETTINGS["op_types"] and any(name in weights for name in node.input)]


def quantize_int8(source: Path, target: Path, weights: Collection[str]) -> dict:
    """Write the int8 form of the graph at ``source`` to ``target``, quantizing only the nodes that read one
    of ``weights`` (:func:`weight_nodes`); returns the settings used, those nodes included.

    Raises:
        ExportError: onnxruntime's quantization tools (they need ``onnx``) are missing or failed, or no node
            reads a weight (nothing would be quantized).
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ExportError(f"--quantize int8 needs onnxruntime's quantization tools (and onnx): {exc}") from exc
    nodes = weight_nodes(source, weights)
    if not nodes:
        raise ExportError(f"int8 quantization found no {'/'.join(INT8_SETTINGS['op_types'])} node reading a weight "
                          f"({', '.join(sorted(weights))}): nothing to quantize")
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # not its "consider pre-processing" advice on every export
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=INT8_SETTINGS["op_types"],
                         nodes_to_quantize=nodes, per_channel=INT8_SETTINGS["per_channel"],
                         reduce_range=INT8_SETTINGS["reduce_range"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's tools raise anything; the export must say why
        raise ExportError(f"int8 quantization failed: {type(exc).__name__}: {exc}") from exc
    finally:
        root.setLevel(level)
    return {**INT8_SETTINGS, "nodes": nodes}


def accuracy_gate(float_graph: Path, int8_graph: Path, vocab: Vocabulary, max_len: int, threshold: float,
                  train: tuple[Sequence[str], Sequence[str]],
                  val: tuple[Sequence[str], Sequence[str]] | None = None,
                  probes: Mapping[str, Sequence[str]] | None = None) -> GateReport:
    """Compare the two graphs' answers on the training (and validation) questions and answers, as the runtime
    serves them: the top-1 answer, and whether its confidence reaches ``threshold`` (else "I don't know");
    and, on each set of ``probes`` (questions that should get "I don't know"), the share each graph refuses.

    Raises:
        ExportError: there are no training questions to compare on (the run's CSV is gone).
    """
    if not train[0]:
        raise ExportError("--quantize needs the run's training CSV for its accuracy gate, and it is not readable")
    from rnnqa.runtime.session import make_session

    sessions = [make_session(Path(g).read_bytes()) for g in (float_graph, int8_graph)]
    answer_id = {a: i for i, a in enumerate(vocab.answers)}

    def served(session, rows) -> np.ndarray:
        """The answer index served for each row, or -1 for "I don't know"."""
        out = []
        for begin in range(0, len(rows), GATE_CHUNK):
            ids, lengths = pad_rows(rows[begin : begin + GATE_CHUNK])
            index, confidence = session.run([ANSWER_INDEX, CONFIDENCE], {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: lengths})
            out.append(np.where(confidence >= threshold, index, -1))
        return np.concatenate(out)

    def score(questions: Sequence[str], answers: Sequence[str]):
        rows = [vocab.encode_question(q, max_len) for q in questions]
        fp32, int8 = (served(s, rows) for s in sessions)
        truth = np.array([answer_id.get(a, -2) for a in answers])
        return fp32, int8, truth

    f_train, i_train, t_train = score(*train)
    agree = [f_train == i_train]
    val_figures = (None, None)
    if val is not None and val[0]:
        f_val, i_val, t_val = score(*val)
        agree.append(f_val == i_val)
        val_figures = (float((f_val == t_val).mean()), float((i_val == t_val).mean()))
    refusals = {}
    for name, questions in (probes or {}).items():
        if questions:
            rows = [vocab.encode_question(q, max_len) for q in questions]
            fp32, int8 = (float((served(s, rows) == -1).mean()) for s in sessions)
            refusals[name] = {"questions": len(questions), "fp32": fp32, "int8": int8}
    agreement = np.concatenate(agree)
    return GateReport(int(agreement.size), float(agreement.mean()), float((f_train == t_train).mean()),
                      float((i_train == t_train).mean()), int(((f_train == t_train) & (i_train != t_train)).sum()),
                      *val_figures, refusals)


def convert_to_ort(graph: Path, ort_target: Path, config_target: Path) -> None:
    """Write ``graph`` in ORT format and the operator/type list a reduced onnxruntime build needs.

    The conversion keeps the graph as it is (optimisation level ``disable``), so the config lists exactly
    the graph's operators (``Constant`` nodes become initializers) and the session optimises at load.

    Raises:
        ExportError: the conversion failed.
    """
    with tempfile.TemporaryDirectory(prefix="rnnqa-ort-") as tmp:
        work = Path(tmp) / "model.onnx"
        shutil.copyfile(graph, work)
        env = {**os.environ, "ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL": "disable"}
        try:
            done = subprocess.run([sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(work),
                                   "--enable_type_reduction", "--optimization_style", "Fixed"],
                                  capture_output=True, text=True, env=env, timeout=CONVERT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ExportError(f"ORT conversion took over {CONVERT_TIMEOUT_S} s and was stopped") from exc
        ort_file, config = Path(tmp) / "model.disable.ort", Path(tmp) / "model.required_operators_and_types.disable.config"
        if done.returncode != 0 or not ort_file.is_file() or not config.is_file():
            raise ExportError(f"ORT conversion failed: {(done.stderr or done.stdout).strip()[-800:]}")
        shutil.copyfile(ort_file, ort_target)
        # the tool names its (resolved) temporary file in the header: the bundle's config names the bundle's file
        lines = config.read_text(encoding="utf-8").splitlines()
        config_target.write_text("\n".join(f"# - {ort_target.name}" if line.startswith("# - ") else line
                                           for line in lines) + "\n", encoding="utf-8")
