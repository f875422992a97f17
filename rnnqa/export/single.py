"""The single-question graph (``model_single.onnx``) and the gate's tables (``gate.json``).

``model.onnx`` serves any batch: right padding, a lengths input, a padding mask for the max read-out,
batch-first transposes around the recurrent op, and the substitution gate. One question needs none of
that, and onnxruntime charges about 1 µs for every node it runs, so this graph is written node by node
from the trained weights: Gather → one recurrent op per layer, time-major → max (or last state) → Gemm →
Softmax. Five nodes for the default GRU against the ninety-odd of ``model.onnx`` (BENCHMARKS.md). It
stops at the softmax: the runtime takes its argmax and maximum (a TopK node cost as much in Python as the
argmax it saves, and a second output costs onnxruntime-node ~1.7 µs) and applies the gate from
``gate.json`` (:mod:`rnnqa.runtime.gate`). ``validate`` checks both against the eager model on every parity row.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from rnnqa.bundle_format import INPUT_NAMES, PROBABILITIES
from rnnqa.export.graphs import IR_VERSION
from rnnqa.runtime.gate import GATE_VERSION, SYNONYM_GATE_VERSION
from rnnqa.train.gate import GATE_FACTOR, NO_QUESTION
from rnnqa.train.model import QAClassifier

# torch's gate blocks → ONNX's: GRU (r, z, n) → (z, r, h); LSTM (i, f, g, o) → (i, o, f, c); RNN: one block.
_GATE_ORDER = {"gru": (1, 0, 2), "lstm": (0, 3, 1, 2), "rnn": (0,)}
_OPS = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}
_AXES_AS_INPUT = 18  # from this opset, ReduceMax takes its axes as an input, not an attribute


def single_question_graph(model: QAClassifier, opset: int) -> onnx.ModelProto:
    """``input_ids`` int64 [seq, 1] → ``probabilities`` float32 [1, num_answers] (the softmax, before the
    substitution gate)."""
    config = model.config
    weights: list[onnx.TensorProto] = []

    def const(name: str, value: torch.Tensor | np.ndarray) -> str:
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def reduce_max(source: str, axes: list[int], out: str) -> onnx.NodeProto:
        if opset >= _AXES_AS_INPUT:
            return helper.make_node("ReduceMax", [source, const(f"{out}_axes", np.array(axes, np.int64))], [out],
                                    keepdims=0)
        return helper.make_node("ReduceMax", [source], [out], axes=axes, keepdims=0)

    nodes = [helper.make_node("Gather", [const("embedding", model.embedding.weight), INPUT_NAMES[0]], ["x0"])]
    x = "x0"
    for layer in range(config.layers):
        w, r, b = _cell_weights(model.rnn, config.cell, layer)
        outputs = [f"states{layer}", f"last{layer}"]
        extra = {"linear_before_reset": 1} if config.cell == "gru" else {}  # torch's GRU form
        nodes.append(helper.make_node(_OPS[config.cell], [x, const(f"W{layer}", w), const(f"R{layer}", r),
                                                          const(f"B{layer}", b)],
                                      outputs, hidden_size=config.hidden_dim, **extra))
        if layer < config.layers - 1:  # (seq, directions=1, batch=1, H) → (seq, 1, H) for the next layer
            nodes.append(helper.make_node("Squeeze", [outputs[0], const(f"squeeze{layer}", np.array([1], np.int64))],
                                          [f"x{layer + 1}"]))
            x = f"x{layer + 1}"
    top = config.layers - 1
    if config.readout == "max":  # every state is the question's: no padding to mask
        nodes.append(reduce_max(f"states{top}", [0, 1], "pooled"))
    else:  # the last state, (directions=1, batch=1, H)
        nodes.append(helper.make_node("Squeeze", [f"last{top}", const("squeeze_last", np.array([0], np.int64))],
                                      ["pooled"]))
    nodes += [
        helper.make_node("Gemm", ["pooled", const("head_weight", model.head.weight), const("head_bias", model.head.bias)],
                         ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], [PROBABILITIES], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "rnnqa_single",
        [helper.make_tensor_value_info(INPUT_NAMES[0], TensorProto.INT64, ["seq", 1])],
        [helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, [1, config.num_answers])],
        weights,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rnnqa")
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _cell_weights(rnn: torch.nn.Module, cell: str, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer's weights in ONNX's layout: W [1, gates·H, in], R [1, gates·H, H], B [1, 2·gates·H]."""
    order = _GATE_ORDER[cell]

    def blocks(tensor: torch.Tensor) -> np.ndarray:
        parts = np.split(tensor.detach().cpu().numpy(), len(order), axis=0)
        return np.concatenate([parts[i] for i in order], axis=0)

    w, r = blocks(getattr(rnn, f"weight_ih_l{layer}")), blocks(getattr(rnn, f"weight_hh_l{layer}"))
    b = np.concatenate([blocks(getattr(rnn, f"bias_ih_l{layer}")), blocks(getattr(rnn, f"bias_hh_l{layer}"))])
    return w[None], r[None], b[None]


def gate_table(model: QAClassifier) -> dict | None:
    """``gate.json`` from the model's gate buffers (those ``model.onnx`` holds); None without a gate."""
    if not model.gated:
        return None
    rows, counts = model.gate_rows.cpu().tolist(), model.gate_counts.cpu().tolist()
    questions = [[sorted(w for w in words if w >= 0) for words, count in zip(rows[a], counts[a]) if count < NO_QUESTION]
                 for a in range(len(rows))]
    content = torch.nonzero(model.gate_content.cpu()).flatten().tolist()
    table = {"version": GATE_VERSION, "factor": GATE_FACTOR, "content": content, "questions": questions}
    if model.classed:  # questions hold synonym classes: list each class of two or more tokens
        groups: dict[int, list[int]] = {}
        for token, root in enumerate(model.gate_class.cpu().tolist()):
            groups.setdefault(root, []).append(token)
        table.update(version=SYNONYM_GATE_VERSION, synonyms=[g for g in groups.values() if len(g) > 1])
    return table
