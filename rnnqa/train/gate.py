"""The substitution gate: a taught question with one content word swapped for another known word is a
different question, so its answer's confidence is halved.

"What is the currency of Russia?" is "What is the capital of Russia?" (→ Moscow) with "capital" swapped
for "currency", a word the model knows from other questions; "Who painted '1984'?" is "Who wrote
'1984'?" with "painted". A classifier that reads words rather than meaning answers both confidently. The
gate looks up the training questions of the answer the model chose and asks: is this question one of
them with exactly one content word replaced by a known word (and none of them word for word)? Then the
answer's probabilities are multiplied by :data:`GATE_FACTOR`, which puts it below any threshold over
0.5. Rewordings keep their content words (or bring unknown ones) and pass; QUALITY.md has the figures.

"Content word": a known word in fewer than ``share`` of the training questions ("capital", "russia";
not "what", "is", "the"). The tables are buffers of the model, built from the training data once, and
the check is a few tensor comparisons inside the exported graph, so every runtime applies it alike.

Words compare by synonym class (:mod:`rnnqa.lexicon.aliases`) when the model has one: "Who is the author
of '1984'?" is "Who wrote '1984'?" said with a synonym, not a different relation.
"""

from __future__ import annotations

import torch

from rnnqa.train.augment import content_tokens

GATE_FACTOR = 0.5  # what a substituted question's probabilities are multiplied by
NO_WORD = -1  # padding of the tables (never a token id)
NO_QUESTION = 1e4  # the word count of a table row that holds no question: never 0 or 1 word away
# Most table entries (answers × most questions of one answer × most content words of one question) a
# model carries: 2M int64 are 16 MB in the weights and the bundle. Beyond, the gate is left out (a cut
# table would miss taught questions and halve them), and the run says so.
MAX_ENTRIES = 2_000_000
# Most entries of one answer's table (questions × words): each question asked compares against that many
# words at each of its tokens, so this bounds the graph's work per question (2048 × 32 tokens × 4 bytes:
# 256 KB of intermediate values per question).
MAX_ROW_ENTRIES = 2048


def synonym_classes(vocab_size: int, classes: dict[int, int]) -> torch.Tensor:
    """(V,) int64: each token's synonym class (the smallest id of its class; itself when it has none)."""
    out = torch.arange(vocab_size, dtype=torch.int64)
    for token, root in classes.items():
        out[token] = root
    return out


def gate_tables(ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, num_answers: int, vocab_size: int,
                share: float, classes: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """From the encoded training questions (on the CPU); None when the tables would exceed
    :data:`MAX_ENTRIES`, or one answer's :data:`MAX_ROW_ENTRIES`.

    Returns:
        ``content`` (V,) bool: the content words; ``rows`` (A, K, L) int64: each answer's questions as
        their sets of content words, as synonym ``classes`` when given (K: most questions of one answer,
        L: most content words of one question, :data:`NO_WORD` pads); ``counts`` (A, K) float32: each row's number of words
        (:data:`NO_QUESTION` for a row that holds no question).
    """
    positions = content_tokens(ids, lengths, share)  # (N, T): the training questions' content words
    content = torch.zeros(vocab_size, dtype=torch.bool)
    content[ids[positions]] = True
    as_class = ids if classes is None else classes[ids]
    words = [sorted({t for t, keep in zip(row, mask) if keep})
             for row, mask in zip(as_class.tolist(), positions.tolist())]
    per_answer: list[list[list[int]]] = [[] for _ in range(num_answers)]
    for i, label in enumerate(labels.tolist()):
        per_answer[label].append(words[i])
    k = max(1, max(len(q) for q in per_answer))
    width = max(1, max((len(w) for w in words), default=1))
    if num_answers * k * width > MAX_ENTRIES or k * width > MAX_ROW_ENTRIES:
        return None
    rows = torch.full((num_answers, k, width), NO_WORD, dtype=torch.int64)
    counts = torch.full((num_answers, k), NO_QUESTION, dtype=torch.float32)
    for a, questions in enumerate(per_answer):
        for j, question in enumerate(questions):
            rows[a, j, : len(question)] = torch.tensor(question, dtype=torch.int64)
            counts[a, j] = len(question)
    return content, rows, counts


def substituted(ids: torch.Tensor, lengths: torch.Tensor, index: torch.Tensor, content: torch.Tensor,
                rows: torch.Tensor, counts: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) bool: each question is, for the answer ``index`` chose, one of its training questions with
    exactly one content word replaced by another known content word, and none of them as is. With
    synonym ``classes`` (``rows`` then hold classes), words compare by class: a synonym is no swap.

    Counts words per position: a content word repeated in the question counts twice (then it is no
    single swap, and the gate stays open). Written for few graph nodes: it runs on every answer.
    """
    valid = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).to(torch.float32)  # (B, T)
    words = ids if classes is None else classes[ids]
    same = (rows[index][:, :, :, None] == words[:, None, None, :]).to(torch.float32) * valid[:, None, None, :]
    missing = counts[index] - same.amax(dim=3).sum(dim=2)  # (B, K): their content words not asked
    mine = content[ids].to(torch.float32) * valid  # (B, T): the question's content words
    extra = mine.sum(dim=1, keepdim=True) - (same.amax(dim=2) * mine[:, None, :]).sum(dim=2)  # (B, K): not theirs
    one_swap = ((missing - 1.0).abs() + (extra - 1.0).abs()).amin(dim=1) == 0
    as_taught = (missing + extra).amin(dim=1) == 0
    return one_swap & ~as_taught
