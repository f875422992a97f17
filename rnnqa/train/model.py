"""The answer classifier: Embedding → RNN | GRU | LSTM → max or last state → Linear, from one config dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from rnnqa.errors import ConfigError
from rnnqa.train.gate import GATE_FACTOR, NO_QUESTION, NO_WORD, substituted

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
READOUTS = ("max", "last")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; saved as JSON next to the weights."""

    vocab_size: int  # number of token ids, <PAD>=0 and <UNK>=1 included
    num_answers: int  # number of answer classes (output width)
    cell: str = "gru"  # recurrent cell: "gru" (generalises best, QUALITY.md), "rnn" (the notebook's) or "lstm"
    embed_dim: int = 50  # width of a token embedding
    hidden_dim: int = 64  # width of the recurrent state
    layers: int = 1  # stacked recurrent layers
    dropout: float = 0.0  # dropout between stacked layers and before the output layer (training only)
    max_len: int = 32  # questions are cut to this many tokens, in training and at inference
    pad_id: int = 0  # id used for right padding; its embedding is kept at zero
    readout: str = "max"  # what the output layer reads: "max" over the states at every token (generalises
    # best, QUALITY.md), or the "last" state (the notebook's, and every run saved before this field existed)
    gate_questions: int = 0  # the substitution gate's tables (rnnqa.train.gate): most training questions of
    gate_words: int = 0  # one answer, most content words of one question; 0: no gate (runs saved before it)
    gate_classes: bool = False  # the gate compares words by synonym class (a buffer); runs saved before it: no

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.readout not in READOUTS:
            raise ConfigError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        for name in ("vocab_size", "num_answers", "embed_dim", "hidden_dim", "layers", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("gate_questions", "gate_words"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if self.gate_classes and self.gate_questions == 0:
            raise ConfigError("gate_classes needs a gate (gate_questions and gate_words positive)")
        if (self.gate_questions == 0) != (self.gate_words == 0):
            raise ConfigError("gate_questions and gate_words are both 0 (no gate) or both positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
        data = {"readout": "last", **data}  # runs saved before the field existed read the last state
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"incomplete model config: {exc}") from exc


class QAClassifier(nn.Module):
    """Reads a right-padded question and scores every answer class."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.rnn = CELLS[config.cell](
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_dim, config.num_answers)
        self.max_readout = config.readout == "max"  # a plain bool: TorchScript cannot read the dataclass
        self.gated = config.gate_questions > 0
        if self.gated:  # filled by the trainer (rnnqa.train.gate.gate_tables); saved with the weights
            k, width = config.gate_questions, config.gate_words
            self.register_buffer("gate_content", torch.zeros(config.vocab_size, dtype=torch.bool))
            self.register_buffer("gate_rows", torch.full((config.num_answers, k, width), NO_WORD, dtype=torch.int64))
            self.register_buffer("gate_counts", torch.full((config.num_answers, k), NO_QUESTION))
        self.classed = self.gated and config.gate_classes
        if self.classed:  # each token's synonym class (rnnqa.train.gate.synonym_classes)
            self.register_buffer("gate_class", torch.arange(config.vocab_size, dtype=torch.int64))

    @torch.jit.ignore
    def answer_scale(self, input_ids: torch.Tensor, lengths: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """(B,) what each row's probabilities are multiplied by for the chosen answers ``index``: 1, or
        :data:`~rnnqa.train.gate.GATE_FACTOR` where the question is a taught one with one word swapped."""
        if not self.gated:
            return torch.ones(index.shape, dtype=torch.float32, device=index.device)
        swapped = substituted(input_ids, lengths, index, self.gate_content, self.gate_rows, self.gate_counts,
                              self.gate_class if self.classed else None)
        return torch.where(swapped, GATE_FACTOR, 1.0)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``input_ids`` (B, T) int64 right-padded, ``lengths`` (B,) int64 → logits (B, A).

        The RNN runs left to right, so the padding after a row's last token cannot change the
        states up to it; both read-outs look at those states only. No packed sequences: they
        export badly.
        """
        states, _ = self.rnn(self.embedding(input_ids))  # (B, T, H)
        batch, width = input_ids.shape
        if self.max_readout:
            # Each feature's largest value over the question's tokens: a word counts wherever it
            # stands, so "France's capital is?" reads like "What is the capital of France?"
            # (QUALITY.md). Every cell's output lies in (-1, 1), so a padding position filled
            # with -1 never wins, and a row of length 0 stays finite.
            padding = torch.arange(width, device=input_ids.device)[None, :] >= lengths[:, None]  # (B, T)
            pooled = states.masked_fill(padding[:, :, None], -1.0).amax(dim=1)  # (B, H)
            return self.head(self.dropout(pooled))
        # Flat index of each row's last token in (B*T, H): one Gather in ONNX, the fewest nodes of
        # the read-outs we measured (see BENCHMARKS.md), and no size-1 squeeze to freeze.
        rows = torch.arange(batch, device=input_ids.device) * width + (lengths - 1).clamp(min=0)  # (B,)
        last = states.reshape(batch * width, states.size(2)).index_select(0, rows)  # (B, H)
        return self.head(self.dropout(last))  # (B, A)
