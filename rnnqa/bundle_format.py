"""The bundle contract shared by the exporter (writes it) and the runtime (checks it). Pure Python.

A bundle is a directory holding exactly these files::

    model.onnx              single-file ONNX graph: input_ids int64 [batch, seq], lengths int64 [batch]
                            -> logits float32 [batch, num_answers], probabilities float32 (their
                            softmax, times the substitution gate's factor for runs trained with it:
                            rnnqa.train.gate), answer_index int64 [batch] (argmax), confidence float32
                            [batch] (its probability); right padding with pad_id
    model.torchscript.pt    TorchScript of the same classifier, logits only: decoding and the substitution
                            gate live in model.onnx (for PyTorch users; never opened by the runtime)
    vocab.json              tokens (position = id), answers (position = output index), pad_id, unk_id,
                            tokenizer (declared as data: docs/tokenizer.md)
    conformance.json        text → tokens → ids → answer and confidence, for every training question and
                            a fixed list of hard strings: what a port of the runtime must reproduce
    tokenizer.json          (declared tokenizers only) the same ids for Hugging Face ``tokenizers``, and
    tokenizer_config.json   its unk_token and model_max_length for transformers(.js)
    manifest.json           format version, model config, graph contract, threshold, sha256 of every
                            other file, tool versions and the parity report
    model.ort               (qa-export --ort) model.onnx in ORT format, and the operators and types an
    required_operators.config   onnxruntime reduced build needs for it
    model_single.onnx       (fp32, up to 4 MiB of weights) the same classifier for one question and nothing else: input_ids
                            int64 [seq, 1] (time-major, no padding, no lengths) -> probabilities float32
                            [1, num_answers], the softmax *before* the substitution gate (the runtime takes
                            its argmax and maximum; format 4's graph output those, answer_index int64 [1, 1]
                            and confidence float32 [1, 1]); the leanest graph of the model
                            (rnnqa.export.single), parity-checked like model.onnx
    gate.json               (with model_single.onnx, for runs trained with the substitution gate) the gate's
                            tables, which model.onnx holds as constants: a runtime answering with
                            model_single.onnx applies the gate itself (the rule: rnnqa.runtime.gate)

An int8 bundle (manifest "variant": "int8", qa-export --quantize int8) holds the quantized graph as
model.onnx, the accuracy gate's figures in its manifest, and no model.torchscript.pt.
    model.sig               (signed bundles only) an OpenSSF model-signing v1.0 signature over every
                            other file, the manifest included; written after the manifest, so not
                            listed in it (rnnqa.runtime.signature checks it when a key is required)

Formats 2 (before conformance.json) and 4 (the single-question graph decoding itself) are still read, so
bundles exported before answer as they did. A bundle without model_single.onnx is written as format 3,
which runtimes from before format 4 read.
"""

FORMAT_NAME = "rnnqa-bundle"
# 2: the graph also outputs probabilities, answer_index and confidence (decoding inside onnxruntime, BENCHMARKS.md).
# 3: conformance.json; the tokenizer in vocab.json is declared as data (version 2) for runs trained since.
# 4: model_single.onnx and gate.json. A bundle without them is written as 3, so runtimes that read 3 load it.
# 5: model_single.onnx stops at the softmax (one output instead of TopK's two: BENCHMARKS.md, "Node and browser").
FORMAT_VERSION = 5

ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.torchscript.pt"
VOCAB_FILE = "vocab.json"
MANIFEST_FILE = "manifest.json"
CONFORMANCE_FILE = "conformance.json"
HF_TOKENIZER_FILE = "tokenizer.json"
HF_CONFIG_FILE = "tokenizer_config.json"
SIGNATURE_FILE = "model.sig"  # the name model_signing's CLI writes by default
ORT_FILE = "model.ort"  # qa-export --ort: model.onnx in onnxruntime's ORT format (reduced builds)
ORT_CONFIG_FILE = "required_operators.config"  # --ort: the operators and types a reduced build needs
SINGLE_FILE = "model_single.onnx"  # one question, no padding: the lean graph `answer` runs
GATE_FILE = "gate.json"  # the substitution gate's tables, for the runtimes that run model_single.onnx
BUNDLE_FILES = (ONNX_FILE, TORCHSCRIPT_FILE, VOCAB_FILE, CONFORMANCE_FILE, MANIFEST_FILE)
# Written for declared (version 2) tokenizers only, with qa-export --ort, or (format 4: the single-question
# graph and the gate's tables) for small fp32 models; when present, listed and hashed like the others.
OPTIONAL_FILES_3 = (HF_TOKENIZER_FILE, HF_CONFIG_FILE, ORT_FILE, ORT_CONFIG_FILE)
OPTIONAL_FILES = OPTIONAL_FILES_3 + (SINGLE_FILE, GATE_FILE)
# manifest "variant": "fp32" (absent in bundles before it) or "int8" (qa-export --quantize int8: model.onnx
# is the quantized graph, and there is no TorchScript file — an edge bundle carries no PyTorch weights).
VARIANTS = {"fp32": (), "int8": (TORCHSCRIPT_FILE,)}  # each variant's files left out of its format's list
# The files of each format version this rnnqa reads, and those it may hold besides.
FORMAT_FILES = {2: (ONNX_FILE, TORCHSCRIPT_FILE, VOCAB_FILE, MANIFEST_FILE), 3: BUNDLE_FILES, 4: BUNDLE_FILES,
                5: BUNDLE_FILES}
FORMAT_OPTIONAL_FILES = {2: (), 3: OPTIONAL_FILES_3, 4: OPTIONAL_FILES, 5: OPTIONAL_FILES}

INPUT_NAMES = ("input_ids", "lengths")
LOGITS, PROBABILITIES, ANSWER_INDEX, CONFIDENCE = "logits", "probabilities", "answer_index", "confidence"
OUTPUT_NAMES = (LOGITS, PROBABILITIES, ANSWER_INDEX, CONFIDENCE)
SINGLE_OUTPUT_NAMES = (PROBABILITIES,)  # model_single.onnx: input INPUT_NAMES[0] only, [seq, 1]
SINGLE_OUTPUT_NAMES_4 = (ANSWER_INDEX, CONFIDENCE)  # format 4's model_single.onnx, [1, 1] each
ONNX_METADATA_KEY = "rnnqa"  # metadata_props key holding the manifest's key facts as JSON

# Below this softmax probability the answer is "I don't know". Chosen on the dev sets with qa-train's
# defaults: the most correct-and-confident answers among thresholds rejecting ≥ 95% of out-of-domain
# questions on both datasets (QUALITY.md, "Choosing the trade-off"). `qa-export --threshold` overrides.
DEFAULT_THRESHOLD = 0.65
LEGACY_THRESHOLD = 0.5  # what qa-export wrote for runs saved before the run recorded its own threshold


def graph_contract(num_answers: int) -> dict:
    """Input and output names, dtypes and shapes, as written to the manifest."""
    return {
        "inputs": [
            {"name": INPUT_NAMES[0], "dtype": "int64", "shape": ["batch", "seq"]},
            {"name": INPUT_NAMES[1], "dtype": "int64", "shape": ["batch"]},
        ],
        "outputs": [
            {"name": LOGITS, "dtype": "float32", "shape": ["batch", num_answers]},
            {"name": PROBABILITIES, "dtype": "float32", "shape": ["batch", num_answers]},
            {"name": ANSWER_INDEX, "dtype": "int64", "shape": ["batch"]},
            {"name": CONFIDENCE, "dtype": "float32", "shape": ["batch"]},
        ],
    }


def format_version(single_graph: bool) -> int:
    """The version a bundle is written as: 5 with the single-question graph, else 3 (older runtimes read it)."""
    return FORMAT_VERSION if single_graph else 3
