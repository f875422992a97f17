"""rnnqa: train a recurrent question-answering classifier, export it, answer anywhere.

Stages (one subpackage each): ``rnnqa.data`` (text → ids, CSV), ``rnnqa.train`` (model, trainer),
``rnnqa.export`` (TorchScript + ONNX bundle, parity), ``rnnqa.runtime`` (onnxruntime + numpy only).
This module imports nothing heavy.
"""

from rnnqa.errors import (
    BatchError,
    BundleError,
    ConfigError,
    DataError,
    ExportError,
    ParityError,
    RnnqaError,
    RunError,
    TrainError,
)

__version__ = "0.1.0"

__all__ = [
    "BatchError",
    "BundleError",
    "ConfigError",
    "DataError",
    "ExportError",
    "ParityError",
    "RnnqaError",
    "RunError",
    "TrainError",
    "__version__",
]
