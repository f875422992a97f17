"""Id rows → one right-padded batch, the layout every graph takes. numpy only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnqa.data.text import PAD_ID


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids (B, T) int64, lengths (B,) int64)``, each row right-padded to the longest."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    ids = np.full((len(rows), int(lengths.max(initial=0))), pad_id, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths
