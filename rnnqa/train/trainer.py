"""The training loop: batched, seeded, on CPU or CUDA, with per-epoch metrics and early stopping."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from rnnqa.bundle_format import DEFAULT_THRESHOLD
from rnnqa.data.table import QAPairs
from rnnqa.data.tensors import EncodedQA, encode_pairs
from rnnqa.data.text import UNK_ID, Vocabulary, make_tokenizer
from rnnqa.errors import ConfigError
from rnnqa.train.distributed import Distributed
from rnnqa.train.augment import (augment_batch, content_tokens, distinctive_tokens, mask_one_word, outlier_batch,
                                 row_hashes, swap_one_word)
from rnnqa.lexicon.aliases import lexicon_tables
from rnnqa.train import glove
from rnnqa.train.gate import MAX_ENTRIES, MAX_ROW_ENTRIES, gate_tables, synonym_classes
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
    aliases: bool = True  # the tokenizer declaration maps words the data never had onto their WordNet
    # synonyms in the vocabulary ("biggest" → "largest"; rnnqa.lexicon.aliases)
    synonym_gate: bool = True  # the gate compares words by WordNet synonym class: a synonym is no swap
    glove: bool = False  # token embeddings start from GloVe 6B 50d (rnnqa.train.glove; the glove extra)
    clean_rows: float = 1.0  # weight of the loss on each batch's questions as written, besides the noisy
    # copies: keeps every training question answered (without it 3 of 24 measured runs missed one)
    protect_subject: bool = True  # never drop/<UNK> a question's rarest words (its subject) in augmentation
    steps_per_epoch: int = 0  # stop each epoch after this many optimiser steps (0: the whole data set);
    # for benchmarks and smoke runs on large data
    threshold: float = DEFAULT_THRESHOLD  # "I don't know" below this confidence: qa-train's report, and what
    # qa-export writes into the bundle unless told otherwise (QUALITY.md chose it for these defaults)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.steps_per_epoch < 0:
            raise ConfigError(f"steps_per_epoch must be ≥ 0, got {self.steps_per_epoch!r}")
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
    seconds: float = 0.0  # the whole epoch: training steps and evaluation
    samples: int = 0  # training questions the epoch's steps read, over every data-parallel rank
    train_seconds: float = 0.0  # the training steps alone: samples / train_seconds is the throughput


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
    world_size: int = 1  # data-parallel processes that trained it (torchrun), 1 without

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
    """Hold out ``share`` of the rows (at least one) for validation, chosen by ``seed``: only rows whose
    answer keeps another question to train on, since a held-out question whose answer was never taught can
    only be answered wrong (and would pick the threshold from nothing).

    Raises:
        ConfigError: fewer rows than that share can be held out so (the message says how many can).
    """
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(share * len(pairs)))
    if n_val >= len(pairs):
        raise ConfigError(f"val_split {share} leaves no training rows out of {len(pairs)}")
    left = Counter(pairs.answers)
    held = []
    for row in order:
        if len(held) == n_val:
            break
        if left[pairs.answers[row]] > 1:
            left[pairs.answers[row]] -= 1
            held.append(row)
    if len(held) < n_val:
        counts = Counter(pairs.answers)
        spare = sum(n - 1 for n in counts.values())
        most = math.floor(100 * spare / len(pairs)) / 100
        while most > 0 and round(most * len(pairs)) > spare:
            most = round(most - 0.01, 2)
        advice = f"at most --val-split {most:g}" if most > 0 else "no --val-split can"
        raise ConfigError(
            f"val_split {share:g} would hold out {n_val} of {len(pairs)} questions, but only {spare} can be: a "
            f"held-out question needs another question with its answer left in training, and "
            f"{sum(n == 1 for n in counts.values())} of {len(counts)} answers have one question. Give --val-csv "
            f"(questions reworded, as quality/default_reworded.csv is for the bundled data) or {advice}")
    chosen = set(held)
    return pairs.select([i for i in range(len(pairs)) if i not in chosen]), pairs.select(sorted(held))


def train(
    pairs: QAPairs,
    model_config: dict | None = None,
    train_config: TrainConfig = TrainConfig(),
    val_pairs: QAPairs | None = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    distributed: Distributed | None = None,
) -> TrainResult:
    """Train a :class:`QAClassifier` on ``pairs``.

    Args:
        pairs: training questions and answers.
        model_config: :class:`ModelConfig` fields other than ``vocab_size``/``num_answers``.
        train_config: optimiser, batching, device and stopping settings.
        val_pairs: validation pairs; when None and ``val_split`` > 0, a split of ``pairs``.
        on_epoch: called after every epoch (progress display).
        distributed: this process's rank in a torchrun job (:func:`rnnqa.train.distributed.process_group`):
            each rank trains a DistributedDataParallel replica on its share of every batch
            (``batch_size`` stays the global batch), and the metrics are summed over every rank.

    Returns:
        The trained model (on CPU, eval mode), its vocabulary, configs and per-epoch history.

    Raises:
        ConfigError: an invalid setting, or CUDA requested without a GPU.
        DataError: validation answers unknown to the training data.
        TrainError: data-parallel replicas ended with different weights.
    """
    cfg = train_config
    device = resolve_device(cfg.device)
    world, rank = (1, 0) if distributed is None else (distributed.world_size, distributed.rank)
    if distributed is not None:
        device = distributed.device(device)
    if cfg.batch_size % world:
        raise ConfigError(f"batch_size {cfg.batch_size} does not split evenly over {world} data-parallel "
                          f"processes: the global batch must be a multiple of the process count")
    answers = pairs.answers  # a split keeps every answer a class, so held-out rows can be scored
    if val_pairs is None and cfg.val_split > 0:
        pairs, val_pairs = split_pairs(pairs, cfg.val_split, cfg.seed)
    vocab = Vocabulary.build(pairs.questions, answers, make_tokenizer(cfg.tokenizer))
    lexicon = lexicon_tables(vocab, pairs.questions) if cfg.aliases or (cfg.gate and cfg.synonym_gate) else None
    if cfg.aliases and lexicon.aliases:  # words the data never had: the training ids are unchanged
        vocab = Vocabulary(vocab.tokens, vocab.answers, vocab.tokenizer.with_aliases(lexicon.aliases))
    mcfg = ModelConfig(vocab_size=len(vocab), num_answers=len(vocab.answers), **(model_config or {}))
    if distributed is not None:  # every rank must train on the same rows with the same settings
        distributed.agree("the training data and settings", _digest(pairs, cfg, mcfg))
    data = encode_pairs(pairs, vocab, mcfg.max_len)
    gate, notes = None, []
    if cfg.gate:
        classes = synonym_classes(len(vocab), lexicon.classes) if cfg.synonym_gate else None
        gate = gate_tables(data.input_ids, data.lengths, data.labels, len(vocab.answers), len(vocab), cfg.gate_share,
                           classes)
        if gate is None:
            notes.append(f"no substitution gate: its tables would exceed {MAX_ENTRIES:,} entries, or "
                         f"{MAX_ROW_ENTRIES:,} for one answer (rnnqa.train.gate)")
        else:
            mcfg = dataclasses.replace(mcfg, gate_questions=gate[1].shape[1], gate_words=gate[1].shape[2],
                                       gate_classes=classes is not None)

    torch.manual_seed(cfg.seed)
    model = QAClassifier(mcfg)
    if distributed is not None:
        torch.manual_seed(cfg.seed + rank)  # dropout masks differ between ranks, like their rows
    if cfg.glove:
        if not hasattr(vocab.tokenizer, "without_aliases"):
            raise ConfigError("--glove needs a declared tokenizer (not a version-1 rule)")
        plain = vocab.tokenizer.without_aliases()
        found = glove.initialise(model.embedding, vocab.tokens, pairs.questions, plain.words, plain.stem_word)
        notes.append(f"GloVe 6B 50d initialised {found} of {len(vocab) - 2} token embeddings")
    if gate is not None:
        model.gate_content.copy_(gate[0])
        model.gate_rows.copy_(gate[1])
        model.gate_counts.copy_(gate[2])
        if classes is not None:
            model.gate_class.copy_(classes)
    model = model.to(device)
    net = model if distributed is None else distributed.wrap(model, device)
    val = None if val_pairs is None else encode_pairs(val_pairs, vocab, mcfg.max_len).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plain_loss = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(cfg.seed + rank)  # the batch order (one process) and augmentation
    sampler = None if distributed is None else DistributedSampler(
        range(len(pairs)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)

    history: list[EpochMetrics] = []
    stopped_early = False
    lengths_cpu = data.lengths  # batch widths are read on the CPU: no device sync per batch
    data = data.to(device)
    subject = distinctive_tokens(data.input_ids, data.lengths) if cfg.protect_subject else None
    content = content_tokens(data.input_ids, data.lengths, cfg.content_share) if cfg.masked_words > 0 else None
    swaps = _swap_tables(data, cfg, vocab, device) if cfg.swapped_words > 0 else None
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        if sampler is None:
            order = torch.randperm(len(data), generator=shuffle)
        else:  # the same permutation on every rank, each taking its share (set_epoch: a new one each epoch)
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.int64)
        step_rows = cfg.batch_size // world
        if cfg.steps_per_epoch:
            order = order[: cfg.steps_per_epoch * step_rows]
        _train_epoch(net, len(vocab), data, order, step_rows, subject, content, swaps, lengths_cpu, cfg, optimiser,
                     shuffle)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - start
        loss, accuracy = evaluate(model, data, plain_loss, distributed)
        val_loss, val_acc = (None, None) if val is None else evaluate(model, val, plain_loss, distributed)
        metrics = EpochMetrics(epoch, loss, accuracy, val_loss, val_acc, time.perf_counter() - start,
                               min(len(order) * world, len(data)), train_seconds)  # not the sampler's padding
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        losses = [m.train_loss for m in history]
        if cfg.early_stop and accuracy == 1.0 and is_flat(losses, cfg.patience, cfg.flat_tol):
            stopped_early = epoch < cfg.epochs
            break
    if distributed is not None:
        distributed.check_replicas(model)
    model.to("cpu").eval()
    return TrainResult(model, vocab, mcfg, cfg, history, device.type, stopped_early, notes, world)


def _digest(pairs: QAPairs, cfg: TrainConfig, mcfg: ModelConfig) -> str:
    text = json.dumps([pairs.questions, pairs.answers, cfg.to_json(), mcfg.to_json()], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


def _train_epoch(model, vocab_size: int, data: EncodedQA, order: torch.Tensor, step_rows: int, subject, content,
                 swaps: _SwapTables | None, lengths_cpu, cfg: TrainConfig, optimiser, shuffle) -> None:
    """One pass over the rows ``order`` of ``data``, ``step_rows`` per augmented batch.

    Each step stacks every kind of row — noisy questions, the questions as written, random-word rows,
    subject-masked rows, word-masked rows — into one forward pass (all share the batch's width), then
    weighs each slice's loss: one large RNN call instead of one small one per kind (BENCHMARKS.md).
    """
    model.train()
    device = data.labels.device
    for begin in range(0, len(order), step_rows):
        idx = order[begin : begin + step_rows]
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
            out_ids, out_lengths = outlier_batch(n_out, width, vocab_size, shuffle, device)
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
        loss = _stacked_loss(logits, rows, cfg.label_smoothing)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


def _stacked_loss(logits: torch.Tensor, rows: list, label_smoothing: float) -> torch.Tensor:
    """Σ over the kinds of rows of weight × that kind's mean loss: cross-entropy (with label smoothing) to
    the answer, or to uniform — "none of the answers in particular" — for rows without labels (over the
    ``counted`` rows only, where given). One log-softmax over every row: slicing the logits per kind made
    backward write a zero gradient of the whole (rows, answers) size per slice, 45% of a step at 20k
    answers (measured with a profiler)."""
    device = logits.device
    targets, to_answer, weights = [], [], []
    for part_ids, _, weight, part_labels, counted in rows:
        n = len(part_ids)
        labelled = part_labels is not None
        targets.append(part_labels if labelled else torch.zeros(n, dtype=torch.int64, device=device))
        to_answer.append(torch.full((n,), float(labelled), device=device))
        if counted is None:
            weights.append(torch.full((n,), weight / n, device=device))
        else:
            weights.append(weight * counted.float() / counted.sum().clamp(min=1))
    to_answer = torch.cat(to_answer)
    to_answer_weight = to_answer * (1.0 - label_smoothing)  # labelled rows: (1 - ε)·NLL + ε·uniform term
    to_uniform_weight = 1.0 - to_answer * (1.0 - label_smoothing)  # unlabelled rows: the uniform term alone
    log_p = torch.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, torch.cat(targets)[:, None]).squeeze(1)
    uniform = log_p.sum(dim=1) * (-1.0 / logits.shape[1])  # the mean, divided on (rows,) not in backward
    return (torch.cat(weights) * (to_answer_weight * nll + to_uniform_weight * uniform)).sum()


@torch.no_grad()
def evaluate(model: QAClassifier, data: EncodedQA, loss_fn: nn.Module, distributed: Distributed | None = None,
             batch_size: int = 4096):
    """(mean loss, accuracy) of ``model`` in eval mode on ``data``; with ``distributed``, each rank scores
    every ``world_size``-th row and the sums are all-reduced, so every rank returns the whole set's figures."""
    if distributed is not None:
        share = slice(distributed.rank, None, distributed.world_size)
        part = EncodedQA(data.input_ids[share], data.lengths[share], data.labels[share])
        loss, accuracy = evaluate(model, part, loss_fn, None, batch_size) if len(part) else (0.0, 0.0)
        loss_sum, correct, n = distributed.sum([loss * len(part), round(accuracy * len(part)), len(part)],
                                               data.labels.device)
        return loss_sum / n, correct / n
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
