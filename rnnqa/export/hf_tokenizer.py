"""The declared tokenizer as a Hugging Face ``tokenizers`` file (``tokenizer.json``), exact on the ids.

So users of ``tokenizers`` (Rust, Python, Node), transformers(.js) and DJL get a bundle's ids from a
library they already have. Built from the declaration (docs/tokenizer.md, steps in brackets):

    normalizer  Sequence of
      Replace   per distinct output of the map, its keys as one literal character class; in the output,
                separators are already " " and joiners "'"                                   [1, 2]
      Replace   every run of code points that are neither word characters nor joiners → " "     [2, 3]
      (with drop_s_after_joiner) Prepend " "; a joiner run after a space, or a joiner after a joiner,
                becomes a mark; a joiner + "s" + end of run is removed (lookahead only, no lookbehind);
                then every joiner and mark is removed                                        [4]
    pre_tokenizer  Split on " ", removed                                                      [3]
    model       WordLevel over every surface word whose stem is a token: at most one stem rule applies,
                so the words that stem to a token t are t and t with one rule undone, filtered by
                stemming them; unk_token <UNK>                                               [5, 7]
    truncation  max_len                                                                       [7]

Not expressed: the aliases of step 6. A phrase alias cannot be one WordLevel entry, and folding the
one-word aliases into the vocabulary as the stems are costs ~140 bytes of JSON each (about 650 KB for the
bundled dataset's, against 120 KB in ``vocab.json``); ``tokenizer_config.json`` says so in
``rnnqa_not_expressed``, and an aliased word is ``<UNK>`` through this file.

Character classes list explicit code points and ranges, never ``\\w`` or ``\\p{…}``, whose meaning
depends on the engine and its Unicode version. Exact for every valid Unicode string (tested against
the declared tokenizer on the conformance vectors and on random text); Python's ``tokenizers``
refuses strings holding lone surrogates, which no Rust string can hold. Step 8 (the two error
messages) is not a tokenizer's: a client checks for an empty id list itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from rnnqa.bundle_format import HF_CONFIG_FILE, HF_TOKENIZER_FILE
from rnnqa.data.text import UNK, Vocabulary
from rnnqa.data.tokenizer import DeclaredTokenizer
from rnnqa.errors import ExportError
_SURROGATES = (0xD800, 0xDFFF)
_MARKS = "%#!\x01\x02"  # candidates for "a joiner whose preceding part is empty": any separator will do


def hf_tokenizer_files(vocab: Vocabulary, max_len: int) -> dict[str, dict]:
    """``tokenizer.json`` and ``tokenizer_config.json`` for ``vocab``'s declared tokenizer.

    Raises:
        ExportError: the tokenizer is not declared (version 1), or its declaration cannot be expressed
            exactly (a map that is not idempotent, a space that is a word character).
    """
    tokenizer = vocab.tokenizer
    if not isinstance(tokenizer, DeclaredTokenizer):
        raise ExportError("only a declared (version 2) tokenizer has a tokenizer.json")
    declaration = tokenizer.to_json()
    joiners = sorted(set(declaration["joiners"]))

    def kind(code: int) -> str:
        char_class = tokenizer.char_class(code)
        return "word" if char_class in ("letter", "digit") else char_class

    if kind(ord(" ")) != "separator":
        raise ExportError("tokenizer.json needs the space character to be a separator")
    normalizers = _map_normalizers(declaration["map"], kind)
    words = _ranges_minus(_merge(declaration["letters"] + declaration["digits"]), joiners)
    normalizers.append(_replace(_ranges_class(words, extra=joiners, negate=True) + "+", " "))
    if joiners:
        normalizers += _joiner_normalizers(joiners, declaration["drop_s_after_joiner"], kind)
    tokenizer_json = {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_len, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": [],
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": " "}, "behavior": "Removed", "invert": False},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": _surface_forms(vocab), "unk_token": UNK},
    }
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": UNK, "pad_token": vocab.tokens[0],
              "model_max_length": max_len}
    if tokenizer.aliases:  # see the module's docstring
        config["rnnqa_not_expressed"] = (f"the {len(tokenizer.aliases)} aliases of vocab.json's tokenizer "
                                         "(docs/tokenizer.md, step 6): a word or phrase it aliases is <UNK> here")
    return {HF_TOKENIZER_FILE: tokenizer_json, HF_CONFIG_FILE: config}


def _map_normalizers(mapping: dict[str, str], kind) -> list[dict]:
    """Step 1 as literal replacements, one per distinct output, separators written " " and joiners "'"."""
    keys = {int(k, 16) for k in mapping}
    if any(ord(c) in keys for out in mapping.values() for c in out):
        raise ExportError("tokenizer.json needs an idempotent map (a replacement holds a mapped code point)")

    def canonical(text: str) -> str:
        return "".join({"joiner": "'", "separator": " "}.get(kind(ord(c)), c) for c in text)

    groups: dict[str, list[int]] = {}
    for key, out in mapping.items():
        code = int(key, 16)
        if canonical(out) != canonical(chr(code)):  # otherwise step 2 treats both alike
            groups.setdefault(canonical(out), []).append(code)
    ordered = sorted(groups.items(), key=lambda group: min(group[1]))
    return [{"type": "Replace", "pattern": {"String": chr(codes[0])}, "content": out} if len(codes) == 1
            else _replace(_ranges_class(_merge([[c, c] for c in codes])), out) for out, codes in ordered]


def _joiner_normalizers(joiners: list[int], drop_s: bool, kind) -> list[dict]:
    """Step 4 on text where runs are separated by single spaces."""
    inner = _ranges_class(_merge([[j, j] for j in joiners]))[1:-1]
    if not drop_s:
        return [_replace(f"[{inner}]", "")]
    mark = next(m for m in _MARKS if kind(ord(m)) == "separator")
    escaped = _escape(ord(mark))
    return [
        {"type": "Prepend", "prepend": " "},
        _replace(f" [{inner}]+", " " + mark),  # joiners opening a run: their preceding part is empty
        _replace(f"[{inner}]{{2,}}", mark),  # a joiner right after a joiner: its preceding part is empty
        _replace(f"[{inner}]s(?![^{inner}{escaped}\\x20])", ""),  # joiner + "s" ending a part after a part
        _replace(f"[{inner}{escaped}]", ""),
    ]


def _surface_forms(vocab: Vocabulary) -> dict[str, int]:
    """Every word whose stem is a token → that token's id (step 5 folded into the vocabulary)."""
    declaration = vocab.tokenizer.to_json()
    rules = (declaration["stem"] or {}).get("rules", [])
    stem = vocab.tokenizer.stem_word if rules else (lambda word: word)
    surface: dict[str, int] = {}
    for token_id, token in enumerate(vocab.tokens):
        undone = [token[: len(token) - len(r["replacement"])] + r["suffix"] for r in rules
                  if token.endswith(r["replacement"])]
        for word in [token, *undone]:
            if stem(word) == token:
                if surface.setdefault(word, token_id) != token_id:
                    raise ExportError(f"tokenizer.json: {word!r} would stand for two tokens")
    surface.setdefault(UNK, vocab.unk_id)
    return surface


def _replace(regex: str, content: str) -> dict:
    return {"type": "Replace", "pattern": {"Regex": regex}, "content": content}


def _escape(code: int) -> str:
    """One code point in a character class, read alike by Oniguruma (Rust) and JavaScript's /u RegExp."""
    return f"\\x{code:02x}" if code < 0x80 and not chr(code).isalnum() else chr(code)


def _ranges_class(ranges: Iterable[list[int]], extra: Iterable[int] = (), negate: bool = False) -> str:
    parts = []
    for lo, hi in ranges:  # a pattern cannot hold a lone surrogate: clamp range ends out of that block
        lo = _SURROGATES[1] + 1 if _SURROGATES[0] <= lo <= _SURROGATES[1] else lo
        hi = _SURROGATES[0] - 1 if _SURROGATES[0] <= hi <= _SURROGATES[1] else hi
        if lo <= hi:
            parts.append(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}")
    parts += [_escape(code) for code in extra]
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _merge(ranges: Iterable[list[int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def _ranges_minus(ranges: list[list[int]], codes: list[int]) -> list[list[int]]:
    """``ranges`` without the code points ``codes`` (a joiner is a joiner first, step 2)."""
    out = []
    for lo, hi in ranges:
        start = lo
        for code in (c for c in sorted(codes) if lo <= c <= hi):
            if start <= code - 1:
                out.append([start, code - 1])
            start = code + 1
        if start <= hi:
            out.append([start, hi])
    return out
