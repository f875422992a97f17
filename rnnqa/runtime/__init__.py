"""Answer questions from a bundle with onnxruntime and numpy alone (never torch or pandas).

    from rnnqa.runtime import QAModel
    model = QAModel.load("artifacts/bundle")
    print(model.answer("What is the capital of Peru?"))
"""

from rnnqa.runtime.model import UNKNOWN_TEXT, Answer, QAModel

__all__ = ["Answer", "QAModel", "UNKNOWN_TEXT"]
