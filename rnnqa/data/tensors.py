"""Question/answer pairs → padded torch tensors, built once per dataset (no per-batch Python work)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnqa.data.table import QAPairs
from rnnqa.data.padding import pad_rows
from rnnqa.data.text import Vocabulary
from rnnqa.errors import DataError


@dataclass(frozen=True)
class EncodedQA:
    """Right-padded ids ``(N, T)`` int64, ``lengths`` ``(N,)`` int64 and ``labels`` ``(N,)`` int64."""

    input_ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> EncodedQA:
        return EncodedQA(self.input_ids.to(device), self.lengths.to(device), self.labels.to(device))


def encode_pairs(pairs: QAPairs, vocab: Vocabulary, max_len: int) -> EncodedQA:
    """Encode every pair; questions longer than ``max_len`` tokens are truncated like the runtime does.

    Raises:
        DataError: an answer is not in ``vocab`` (e.g. a validation CSV with an unseen answer).
    """
    answer_ids = {a: i for i, a in enumerate(vocab.answers)}
    rows = [vocab.encode(q, max_len) for q in pairs.questions]
    labels = []
    for answer, line in zip(pairs.answers, pairs.lines):
        if answer not in answer_ids:
            raise DataError(f"answer {answer!r} does not occur in the training data", path=pairs.source, line=line)
        labels.append(answer_ids[answer])
    ids, lengths = pad_rows(rows)
    return EncodedQA(torch.from_numpy(ids), torch.from_numpy(lengths), torch.tensor(labels, dtype=torch.int64))
