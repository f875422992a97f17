"""Probabilities from an eager model, with the runtime's input rules (for training-time reports)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rnnqa.data.padding import pad_rows
from rnnqa.data.text import Vocabulary
from rnnqa.train.model import QAClassifier


@torch.no_grad()
def eager_probabilities(model: QAClassifier, vocab: Vocabulary, questions: Sequence[str]) -> np.ndarray:
    """The bundle's probabilities ``(N, A)`` float64 (softmax times the substitution gate's factor); a
    question with no tokens gets the uniform distribution."""
    rows = [vocab.encode(q, model.config.max_len) for q in questions]
    probs = np.full((len(rows), len(vocab.answers)), 1.0 / len(vocab.answers))
    keep = [i for i, r in enumerate(rows) if r]
    if keep:
        ids, lengths = pad_rows([rows[i] for i in keep])
        ids_t, lengths_t = torch.from_numpy(ids), torch.from_numpy(lengths)
        logits = model.eval()(ids_t, lengths_t).double()
        scale = model.answer_scale(ids_t, lengths_t, logits.argmax(dim=1)).double()  # the bundle's gate
        probs[keep] = (torch.softmax(logits, dim=1) * scale[:, None]).numpy()
    return probs
