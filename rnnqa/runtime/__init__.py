"""Answer questions from a bundle with onnxruntime and numpy alone (never torch or pandas).

    from rnnqa.runtime import QAModel
    model = QAModel.load("artifacts/bundle")
    print(model.answer("What is the capital of Peru?"))

The names below are imported on first use, so a submodule (rnnqa.runtime.bundle, rnnqa.runtime.one_shot) loads
without numpy and onnxruntime's Python package: qa-ask's one-shot form needs neither (rnnqa.runtime.capi).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Answer", "QAModel", "UNKNOWN_TEXT"]

if TYPE_CHECKING:
    from rnnqa.runtime.answer import UNKNOWN_TEXT, Answer
    from rnnqa.runtime.model import QAModel


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def __getattr__(name: str):
    if name in ("Answer", "UNKNOWN_TEXT"):
        from rnnqa.runtime import answer

        return getattr(answer, name)
    if name == "QAModel":
        from rnnqa.runtime.model import QAModel

        return QAModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
