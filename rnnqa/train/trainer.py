"""The training loop: batched, seeded, on CPU or CUDA, with per-epoch metrics and early stopping."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rnnqa.bundle_format import DEFAULT_THRESHOLD
from rnnqa.data.table import QAPairs
from rnnqa.data.tensors import EncodedQA, encode_pairs
from rnnqa.data.text import UNK_ID, Vocabulary, make_tokenizer
from rnnqa.errors import ConfigError
from rnnqa.train.augment import (augment_batch, content_tokens, distinctive_tokens, mask_one_word, outlier_batch,
                                 row_hashes, swap_one_word)
from rnnqa.train.gate import MAX_ENTRIES, MAX_ROW_ENTRIES, gate_tables
from rnnqa.train.model import ModelConfig, QAClassifier

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; saved next to the weights with the :class:`ModelConfig`."""

    epochs: int = 150  # epochs to run (early_stop may end sooner)
    batch_size: int = 16  # questions per optimiser step (each batch padded to its longest row)
    lr: float = 1e-2  # Adam learning rate
    weight_decay: float = 0.0  # Adam L2 penalty
    seed: int = 0  # seeds weights, shuffling and the validation split
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
    val_split: float = 0.0  # share of the CSV held out for validation when no validation CSV is given
    early_stop: bool = False  # stop once train accuracy is 1.0 and the loss is flat (see `is_flat`);
    # off by default: with augmentation, the last epochs still improve reworded questions (QUALITY.md)
    flat_tol: float = 0.05  # "flat": loss fell by less than this fraction over `patience` epochs
    patience: int = 3  # epochs the flatness is judged over
    tokenizer: str = "stem"  # tokenizer preset, declared as data in vocab.json (docs/tokenizer.md)
    label_smoothing: float = 0.0  # CrossEntropyLoss label smoothing
    token_dropout: float = 0.25  # augmentation: chance to drop each token of a training question
    unk_rate: float = 0.15  # augmentation: chance to replace each token by <UNK>
    shuffle_window: float = 2.0  # augmentation: tokens move by up to about this many positions
    outliers: float = 1.0  # random-word rows per training row, trained towards a uniform answer
    masked_outliers: float = 1.0  # training rows with their subject words as <UNK>, towards uniform
    masked_words: float = 0.1  # training rows with one random content word as <UNK>, towards uniform
    content_share: float = 0.1  # "content word": in fewer than this share of the training questions
    swapped_words: float = 0.0  # training rows with one word swapped for a word of another question (a
    # subject or relation never taught together: "currency of russia"), towards uniform; rows whose words
    # are those of a training question are left out
    swap_share: float = 0.3  # words swapped: known words in fewer than this share of the training questions
    gate: bool = True  # the substitution gate (rnnqa.train.gate): halve the confidence of a taught question
    # with one content word swapped for another known word ("currency of russia"); QUALITY.md
    gate_share: float = 0.3  # the gate's content words: known words in fewer than this share of the questions
    clean_rows: float = 1.0  # weight of the loss on each batch's questions as written, besides the noisy
    # copies: keeps every training question answered (without it 3 of 24 measured runs missed one)
    protect_subject: bool = True  # never drop/<UNK> a question's rarest words (its subject) in augmentation
    threshold: float = DEFAULT_THRESHOLD  # "I don't know" below this confidence: qa-train's report, and what
    # qa-export writes into the bundle unless told otherwise (QUALITY.md chose it for these defaults)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"val_split must be in [0, 1), got {self.val_split!r}")
        for name in ("label_smoothing", "token_dropout", "unk_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.masked_outliers > 0 and not self.protect_subject:
            raise ConfigError("masked_outliers needs protect_subject (it masks the protected subject words)")
        if min(self.shuffle_window, self.outliers, self.masked_outliers, self.masked_words, self.clean_rows,
               self.swapped_words) < 0:
            raise ConfigError("shuffle_window, outliers, masked_outliers, masked_words, clean_rows and swapped_words "
                              "must be ≥ 0")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold!r}")
        for name in ("content_share", "swap_share", "gate_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")
        make_tokenizer(self.tokenizer)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def without_augmentation(self) -> TrainConfig:
        """The same settings with every augmentation and outlier term off."""
        return dataclasses.replace(self, token_dropout=0.0, unk_rate=0.0, shuffle_window=0.0, outliers=0.0,
                                   masked_outliers=0.0, masked_words=0.0, clean_rows=0.0, swapped_words=0.0,
                                   protect_subject=False, label_smoothing=0.0)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    seconds: float = 0.0


@dataclass
class TrainResult:
    model: QAClassifier
    vocab: Vocabulary
    model_config: ModelConfig
    train_config: TrainConfig
    history: list[EpochMetrics]
    device: str
    stopped_early: bool
    notes: list[str] = dataclasses.field(default_factory=list)  # what the run should say about itself

    def summary(self) -> str:
        last = self.history[-1]
        text = (
            f"trained {self.model_config.cell.upper()} on {self.device} for {last.epoch} epoch(s)"
            f"{' (early stop)' if self.stopped_early else ''}: "
            f"loss {last.train_loss:.4f}, accuracy {last.train_accuracy:.3f}"
        )
        if last.val_accuracy is not None:
            text += f", val loss {last.val_loss:.4f}, val accuracy {last.val_accuracy:.3f}"
        return text


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available; asking for ``cuda`` without one is a :class:`ConfigError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but no CUDA device is available")
    return torch.device(name)


def is_flat(losses: list[float], patience: int, tol: float) -> bool:
    """True when the loss fell by less than ``tol`` (relative) over the last ``patience`` epochs."""
    if len(losses) <= patience:
        return False
    before, now = losses[-1 - patience], losses[-1]
    return before - now < tol * before


def split_pairs(pairs: QAPairs, share: float, seed: int) -> tuple[QAPairs, QAPairs]:
    """Hold out ``share`` of the rows (at least one) for validation, chosen by ``seed``."""
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(share * len(pairs)))
    if n_val >= len(pairs):
        raise ConfigError(f"val_split {share} leaves no training rows out of {len(pairs)}")
    return pairs.select(sorted(order[n_val:])), pairs.select(sorted(order[:n_val]))


def train(
    pairs: QAPairs,
    model_config: dict | None = None,
    train_config: TrainConfig = TrainConfig(),
    val_pairs: QAPairs | None = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> TrainResult:
    """Train a :class:`QAClassifier` on ``pairs``.

    Args:
        pairs: training questions and answers.
        model_config: :class:`ModelConfig` fields other than ``vocab_size``/``num_answers``.
        train_config: optimiser, batching, device and stopping settings.
        val_pairs: validation pairs; when None and ``val_split`` > 0, a split of ``pairs``.
        on_epoch: called after every epoch (progress display).

    Returns:
        The trained model (on CPU, eval mode), its vocabulary, configs and per-epoch history.

    Raises:
        ConfigError: an invalid setting, or CUDA requested without a GPU.
        DataError: validation answers unknown to the training data.
    """
    cfg = train_config
    device = resolve_device(cfg.device)
    answers = pairs.answers  # a split keeps every answer a class, so held-out rows can be scored
    if val_pairs is None and cfg.val_split > 0:
        pairs, val_pairs = split_pairs(pairs, cfg.val_split, cfg.seed)
    vocab = Vocabulary.build(pairs.questions, answers, make_tokenizer(cfg.tokenizer))
    mcfg = ModelConfig(vocab_size=len(vocab), num_answers=len(vocab.answers), **(model_config or {}))
    data = encode_pairs(pairs, vocab, mcfg.max_len)
    gate, notes = None, []
    if cfg.gate:
        gate = gate_tables(data.input_ids, data.lengths, data.labels, len(vocab.answers), len(vocab), cfg.gate_share)
        if gate is None:
            notes.append(f"no substitution gate: its tables would exceed {MAX_ENTRIES:,} entries, or "
                         f"{MAX_ROW_ENTRIES:,} for one answer (rnnqa.train.gate)")
        else:
            mcfg = dataclasses.replace(mcfg, gate_questions=gate[1].shape[1], gate_words=gate[1].shape[2])

    torch.manual_seed(cfg.seed)
    model = QAClassifier(mcfg)
    if gate is not None:
        model.gate_content.copy_(gate[0])
        model.gate_rows.copy_(gate[1])
        model.gate_counts.copy_(gate[2])
    model = model.to(device)
    val = None if val_pairs is None else encode_pairs(val_pairs, vocab, mcfg.max_len).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    plain_loss = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(cfg.seed)

    history: list[EpochMetrics] = []
    stopped_early = False
    lengths_cpu = data.lengths  # batch widths are read on the CPU: no device sync per batch
    data = data.to(device)
    subject = distinctive_tokens(data.input_ids, data.lengths) if cfg.protect_subject else None
    content = content_tokens(data.input_ids, data.lengths, cfg.content_share) if cfg.masked_words > 0 else None
    swaps = _swap_tables(data, cfg, vocab, device) if cfg.swapped_words > 0 else None
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        _train_epoch(model, data, subject, content, swaps, lengths_cpu, cfg, optimiser, loss_fn, shuffle)
        loss, accuracy = evaluate(model, data, plain_loss)
        val_loss, val_acc = (None, None) if val is None else evaluate(model, val, plain_loss)
        metrics = EpochMetrics(epoch, loss, accuracy, val_loss, val_acc, time.perf_counter() - start)
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        losses = [m.train_loss for m in history]
        if cfg.early_stop and accuracy == 1.0 and is_flat(losses, cfg.patience, cfg.flat_tol):
            stopped_early = epoch < cfg.epochs
            break
    model.to("cpu").eval()
    return TrainResult(model, vocab, mcfg, cfg, history, device.type, stopped_early, notes)


@dataclass(frozen=True)
class _SwapTables:
    candidates: torch.Tensor  # (N, T) the words a swap may take out or bring in
    token_hash: torch.Tensor  # (V,) random int64 per token
    taught: torch.Tensor  # (N,) row_hashes of the training rows


def _swap_tables(data: EncodedQA, cfg: TrainConfig, vocab: Vocabulary, device: torch.device) -> _SwapTables:
    hashes = torch.randint(-(2 ** 62), 2 ** 62, (len(vocab.tokens),), generator=torch.Generator().manual_seed(cfg.seed))
    token_hash = hashes.to(device)
    return _SwapTables(content_tokens(data.input_ids, data.lengths, cfg.swap_share), token_hash,
                       row_hashes(data.input_ids, data.lengths, token_hash))


def _train_epoch(model, data: EncodedQA, subject, content, swaps: _SwapTables | None, lengths_cpu, cfg: TrainConfig,
                 optimiser, loss_fn, shuffle) -> None:
    """One pass over ``data`` in shuffled, augmented batches.

    Each step stacks every kind of row — noisy questions, the questions as written, random-word rows,
    subject-masked rows, word-masked rows — into one forward pass (all share the batch's width), then
    weighs each slice's loss: one large RNN call instead of one small one per kind (BENCHMARKS.md).
    """
    model.train()
    device = data.labels.device
    order = torch.randperm(len(data), generator=shuffle)
    for begin in range(0, len(data), cfg.batch_size):
        idx = order[begin : begin + cfg.batch_size]
        width = int(lengths_cpu[idx].max())
        idx = idx.to(device, non_blocking=True)
        clean_ids, clean_lengths, labels = data.input_ids[idx, :width], data.lengths[idx], data.labels[idx]
        protect = None if subject is None else subject[idx, :width]
        ids, lengths = augment_batch(clean_ids, clean_lengths, shuffle, token_dropout=cfg.token_dropout,
                                     unk_rate=cfg.unk_rate, shuffle_window=cfg.shuffle_window, protect=protect)
        # (ids, lengths, weight, labels or None for uniform, the rows counted or None for all)
        rows = [(ids, lengths, 1.0, labels, None)]
        if cfg.clean_rows > 0:
            rows.append((clean_ids, clean_lengths, cfg.clean_rows, labels, None))
        n_out = round(cfg.outliers * len(idx))
        if n_out:
            out_ids, out_lengths = outlier_batch(n_out, width, model.config.vocab_size, shuffle, device)
            rows.append((out_ids, out_lengths, cfg.outliers, None, None))
        if cfg.masked_outliers > 0:  # TrainConfig guarantees protect_subject, so `protect` is set
            rows.append((torch.where(protect, UNK_ID, clean_ids), clean_lengths, cfg.masked_outliers, None, None))
        if content is not None:  # a known question with one of its words unknown is another question
            masked, has = mask_one_word(clean_ids, content[idx, :width], shuffle)
            rows.append((masked, clean_lengths, cfg.masked_words, None, has))  # no device sync to drop rows
        if swaps is not None and len(idx) > 1:  # a frame with a word of another question: never taught together
            donor = torch.roll(torch.arange(len(idx), device=device), 1)
            candidates = swaps.candidates[idx, :width]
            swapped, new = swap_one_word(clean_ids, clean_lengths, candidates, clean_ids[donor], candidates[donor],
                                         swaps.token_hash, swaps.taught, shuffle)
            rows.append((swapped, clean_lengths, cfg.swapped_words, None, new & (labels != labels[donor])))
        logits = model(torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows]))
        loss, start = 0.0, 0
        for part_ids, _, weight, part_labels, counted in rows:
            part = logits[start : start + len(part_ids)]
            start += len(part_ids)
            if part_labels is not None:
                term = loss_fn(part, part_labels)
            else:  # towards uniform: cross-entropy to "none of the answers in particular"
                per_row = -torch.log_softmax(part, dim=1).mean(dim=1)
                term = per_row.mean() if counted is None else (per_row * counted).sum() / counted.sum().clamp(min=1)
            loss = loss + weight * term
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


@torch.no_grad()
def evaluate(model: QAClassifier, data: EncodedQA, loss_fn: nn.Module, batch_size: int = 4096):
    """(mean loss, accuracy) of ``model`` in eval mode on ``data``."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for begin in range(0, len(data), batch_size):
        ids = data.input_ids[begin : begin + batch_size]
        labels = data.labels[begin : begin + batch_size]
        logits = model(ids, data.lengths[begin : begin + batch_size])
        total_loss += float(loss_fn(logits, labels)) * len(labels)
        correct += int((logits.argmax(1) == labels).sum())
    model.train(was_training)
    return total_loss / len(data), correct / len(data)
