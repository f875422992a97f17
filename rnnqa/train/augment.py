"""Noise for tiny datasets, applied to whole padded batches on the device (no per-row Python).

Reworded questions drop words, add words we never saw and change word order; these transforms show
the model such variants of every training question. Outlier rows teach it to be unsure of
questions made of unrelated words, or of a known question with one of its words replaced by one
it never saw ("what is the boiling point of <UNK>").
"""

from __future__ import annotations

import torch

from rnnqa.data.text import PAD_ID, UNK_ID


def augment_batch(
    ids: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator,
    *,
    token_dropout: float = 0.0,
    unk_rate: float = 0.0,
    shuffle_window: float = 0.0,
    protect: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return noisy copies of right-padded ``ids`` (B, T) and their new ``lengths`` (B,).

    Args:
        token_dropout: chance to drop each token (a row keeps at least one).
        unk_rate: chance to replace each token by ``<UNK>``.
        shuffle_window: tokens move by up to about this many positions (0: order kept).
        protect: bool (B, T), tokens never dropped nor replaced (a question's subject: without it
            the question is a different one, which the masked outliers teach to reject).
    """
    if token_dropout == 0 and unk_rate == 0 and shuffle_window == 0:
        return ids, lengths  # plain training: no sort, no random draws
    batch, width = ids.shape
    device = ids.device
    pos = torch.arange(width, device=device).expand(batch, width)
    valid = pos < lengths[:, None]
    noisy = valid if protect is None else valid & ~protect
    if unk_rate > 0:
        ids = torch.where(noisy & (_rand(batch, width, generator, device) < unk_rate), UNK_ID, ids)
    keep = valid
    if token_dropout > 0:
        keep = valid & ~(noisy & (_rand(batch, width, generator, device) < token_dropout))
        keep = torch.where((keep.sum(1) == 0)[:, None], valid, keep)
    key = pos.to(torch.float32)
    if shuffle_window > 0:
        key = key + _rand(batch, width, generator, device) * shuffle_window
    key = torch.where(keep, key, key + 2 * width + shuffle_window + 1)  # dropped and padding go last
    order = key.argsort(dim=1, stable=True)
    new_lengths = keep.sum(1)
    new_ids = torch.where(pos < new_lengths[:, None], ids.gather(1, order), PAD_ID)
    return new_ids, new_lengths


def outlier_batch(
    count: int, width: int, vocab_size: int, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` rows of random known words and ``<UNK>`` (half the tokens), lengths 1..``width``."""
    lengths = torch.randint(1, width + 1, (count,), generator=generator).to(device)
    words = torch.randint(2, vocab_size, (count, width), generator=generator).to(device)
    unk = _rand(count, width, generator, device) < 0.5
    ids = torch.where(unk, UNK_ID, words)
    pos = torch.arange(width, device=device).expand(count, width)
    return torch.where(pos < lengths[:, None], ids, PAD_ID), lengths


def _rand(rows: int, cols: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand((rows, cols), generator=generator).to(device)


def _document_frequency(ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(V,) in how many rows each token occurs, for right-padded ``ids`` with ``valid`` positions."""
    batch, width = ids.shape
    vocab = int(ids.max()) + 1
    rows = torch.arange(batch, device=ids.device)[:, None].expand(batch, width)
    pairs = torch.unique((rows * vocab + ids)[valid])  # each (question, token) once: O(N·T) memory
    return torch.bincount(pairs % vocab, minlength=vocab)


def _valid(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]


def distinctive_tokens(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Bool (N, T): each row's rarest tokens — those in the fewest of the N questions — which are
    what tells a question apart from the others (its subject: "france", "mona lisa")."""
    valid = _valid(ids, lengths)
    df = _document_frequency(ids, valid)
    token_df = torch.where(valid, df[ids], torch.iinfo(torch.int64).max)
    return valid & (token_df == token_df.min(dim=1, keepdim=True).values)


def content_tokens(ids: torch.Tensor, lengths: torch.Tensor, max_share: float) -> torch.Tensor:
    """Bool (N, T): each row's known words that occur in fewer than ``max_share`` of the N
    questions — its content words ("boiling", "point", "water"), not "what", "is", "the"."""
    valid = _valid(ids, lengths)
    df = _document_frequency(ids, valid)
    return valid & (ids != UNK_ID) & (df[ids] < max_share * len(ids))


def mask_one_word(
    ids: torch.Tensor, candidates: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace one random ``candidates`` position per row by ``<UNK>``.

    Returns:
        The masked rows (B, T) and a bool (B,) of the rows that had a candidate (the others are
        returned unchanged and should not be used).
    """
    score = torch.where(candidates, _rand(*ids.shape, generator, ids.device), -1.0)
    pos = torch.arange(ids.shape[1], device=ids.device)[None, :]
    pick = candidates & (pos == score.argmax(dim=1, keepdim=True))  # exactly one per row with a candidate
    return torch.where(pick, UNK_ID, ids), candidates.any(dim=1)


def row_hashes(ids: torch.Tensor, lengths: torch.Tensor, token_hash: torch.Tensor) -> torch.Tensor:
    """(N,) int64: an order-free hash of each row's tokens (the sum of their random ``token_hash`` values,
    wrapping), so a row with its words moved about hashes the same."""
    return torch.where(_valid(ids, lengths), token_hash[ids], 0).sum(dim=1)


def swap_one_word(
    ids: torch.Tensor,
    lengths: torch.Tensor,
    candidates: torch.Tensor,
    donor_ids: torch.Tensor,
    donor_candidates: torch.Tensor,
    token_hash: torch.Tensor,
    taught: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace one random ``candidates`` word of each row by one random ``donor_candidates`` word of the
    donor row beside it: a question's frame with another question's subject or relation ("what is the
    currency of russia" from "... capital of russia" and "... currency of japan").

    Returns:
        The new rows (B, T) and a bool (B,) of those that are new questions: both rows had a candidate,
        the word is not already in the row, and the row's words are not those of a training question
        (``taught``: the :func:`row_hashes` of every training row), which the model must keep answering.
    """
    pos = torch.arange(ids.shape[1], device=ids.device)[None, :]
    pick = candidates & (pos == torch.where(candidates, _rand(*ids.shape, generator, ids.device), -1.0)
                         .argmax(dim=1, keepdim=True))
    donor_pick = donor_candidates & (pos == torch.where(donor_candidates, _rand(*ids.shape, generator, ids.device),
                                                        -1.0).argmax(dim=1, keepdim=True))
    new_word = (donor_ids * donor_pick).sum(dim=1)  # (B,): 0 where the donor had no candidate
    old_word = (ids * pick).sum(dim=1)
    swapped = torch.where(pick, new_word[:, None], ids)
    hashes = row_hashes(swapped, lengths, token_hash)
    already = ((ids == new_word[:, None]) & _valid(ids, lengths)).any(dim=1)
    ok = candidates.any(dim=1) & donor_candidates.any(dim=1) & (new_word != old_word) & ~already
    return swapped, ok & ~torch.isin(hashes, taught)
