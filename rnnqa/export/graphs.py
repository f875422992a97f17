"""Write the model as TorchScript and as ONNX. Writing only: parity is checked in ``validate``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from rnnqa.bundle_format import INPUT_NAMES, ONNX_METADATA_KEY, OUTPUT_NAMES
from rnnqa.errors import ExportError
from rnnqa.train.model import QAClassifier

# The ONNX we write, pinned so an older onnxruntime still loads it: opset 17 (onnxruntime >= 1.13)
# and IR version 8 (onnxruntime >= 1.14). A newer onnx package would otherwise stamp a newer IR.
DEFAULT_OPSET = 17
IR_VERSION = 8
MIN_OPSET, MAX_OPSET = 14, 20


def example_inputs(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs graphs are traced with: batch 2, length 4, rows of different lengths.

    Validation deliberately uses other batch sizes and lengths, so any size frozen into a graph by
    these examples shows up as a mismatch.
    """
    ids = torch.tensor([[2, 3, 4, 5], [3, 4, 0, 0]], dtype=torch.int64) % vocab_size
    return ids, torch.tensor([4, 2], dtype=torch.int64)


class ServingHead(nn.Module):
    """The classifier plus its decoding, for the ONNX graph:
    ``(logits, probabilities, answer_index, confidence)``. With the substitution gate (rnnqa.train.gate),
    ``probabilities`` is the softmax times each row's gate factor (1, or 0.5 for a taught question with
    one word swapped), so ``confidence`` is still exactly the largest of them.

    Softmax, max and argmax run inside onnxruntime, so answering a question needs no numpy work
    after the session call: measured ~25% faster per question than decoding the logits in numpy
    (BENCHMARKS.md). ONNX's Softmax subtracts the row maximum, so it cannot overflow.
    """

    def __init__(self, model: QAClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor):
        logits = self.model(input_ids, lengths)
        probabilities = torch.softmax(logits, dim=1)
        confidence, answer_index = probabilities.max(dim=1)
        if not self.model.gated:  # runs saved before the substitution gate: the graph they always had
            return logits, probabilities, answer_index, confidence
        scale = self.model.answer_scale(input_ids, lengths, answer_index)  # rnnqa.train.gate
        return logits, probabilities * scale[:, None], answer_index, confidence * scale


def onnx_weight_names(model: QAClassifier) -> set[str]:
    """The names ``export_onnx`` gives the model's learned weights in the graph (``ServingHead`` holds the
    model as ``model``); its buffers, such as the gate's tables, are not among them."""
    return {f"model.{name}" for name, _ in model.named_parameters()}


def export_torchscript(model: QAClassifier, path: Path) -> None:
    """Compile with ``torch.jit.script`` (no tracing: nothing shape-dependent is frozen)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's own deprecation notice
        scripted = torch.jit.script(model.eval())
    scripted.save(str(path))


def export_onnx(model: QAClassifier, path: Path, opset: int = DEFAULT_OPSET, metadata: dict | None = None) -> dict:
    """Write ``ServingHead(model)`` as a single-file ONNX graph with dynamic batch and sequence axes,
    checked by onnx.checker.

    ``metadata`` (plus the written opset and IR version) is stored as JSON in the graph's
    ``metadata_props`` so a lone ``model.onnx`` still describes itself.

    Returns:
        ``{"opset": ..., "ir_version": ...}`` as written.

    Raises:
        ExportError: unsupported opset, or the exporter or checker failed.
    """
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"--opset must be between {MIN_OPSET} and {MAX_OPSET}, got {opset}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # RNN-export and legacy-exporter notices
            torch.onnx.export(
                ServingHead(model.eval()),
                example_inputs(model.config.vocab_size),
                str(path),
                input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAMES[0]: {0: "batch", 1: "seq"}, INPUT_NAMES[1]: {0: "batch"},
                              **{name: {0: "batch"} for name in OUTPUT_NAMES}},
                opset_version=opset,
                dynamo=False,  # the TorchScript-based exporter: no onnxscript dependency, native RNN ops
                external_data=False,
            )
        proto = onnx.load(str(path))
        proto.ir_version = min(proto.ir_version, IR_VERSION)
        written = {"opset": opset, "ir_version": proto.ir_version}
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, json.dumps({**(metadata or {}), "onnx": written}, sort_keys=True)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(path))
        return written
    except (RuntimeError, onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"ONNX export failed: {exc}") from exc
