"""Text → ids. Only the pure-Python part is imported here, so the runtime stays light.

The CSV loader (:mod:`rnnqa.data.table`, pandas) and tensor builder (:mod:`rnnqa.data.tensors`,
torch) are imported explicitly by the training code.
"""

from rnnqa.data.text import (
    PAD,
    PAD_ID,
    TOKENIZERS,
    UNK,
    UNK_ID,
    Tokenizer,
    Vocabulary,
    make_tokenizer,
    tokenizer_from_json,
)

__all__ = ["PAD", "PAD_ID", "TOKENIZERS", "UNK", "UNK_ID", "Tokenizer", "Vocabulary", "make_tokenizer",
           "tokenizer_from_json"]
