"""What qa-ask prints for one question: shared by the click command and the lean path. No click here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rnnqa.utf8 import NOT_UTF8, shown

if TYPE_CHECKING:
    from rnnqa.runtime.model import QAModel
    from rnnqa.runtime.one_shot import OneShotModel

DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")


def not_utf8(question: str, as_json: bool) -> tuple[str, bool]:
    """The error line for a question with bytes that are not UTF-8, as ``--input`` reports such a row."""
    if as_json:
        return json.dumps({"question": shown(question), "error": NOT_UTF8}, ensure_ascii=False), False
    return f"error: {NOT_UTF8}", False


def respond(model: QAModel | OneShotModel, question: str, as_json: bool, top_k: int | None) -> tuple[str, bool]:
    """The output line for ``question`` and whether it was answered."""
    try:
        answers = model.top_k(question, top_k) if top_k else [model.answer(question)]
    except (ValueError, TypeError) as exc:
        if as_json:
            return json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), False
        return f"error: {exc}", False
    best = answers[0]
    if as_json:
        record = {"question": question, "answer": best.text, "confidence": round(best.confidence, 6),
                  "known": best.known}
        if top_k:
            record["top_k"] = [{"answer": a.text, "confidence": round(a.confidence, 6)} for a in answers]
        return json.dumps(record, ensure_ascii=False), True
    if top_k:
        return " | ".join(f"{a.text} ({a.confidence:.3f})" for a in answers), True
    return str(best), True
