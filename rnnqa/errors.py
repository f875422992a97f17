"""The exception tree of rnnqa, in one place.

Every error the library raises on purpose derives from :class:`RnnqaError`, so a CLI (or an app)
catches the base once and prints one clear line. Messages name the file, line or setting at fault.

    RnnqaError
    ├── DataError           bad training data (CSV): carries the 1-based line number when known
    ├── ConfigError         an invalid option or configuration value (also a ValueError)
    ├── QuestionError       a question that cannot be asked: empty, or no words (also a ValueError)
    ├── QuestionTypeError   a question that is not a str, or one str where a sequence is due (a TypeError)
    ├── Overloaded          qa-serve's queue is full or a request waited past its deadline (HTTP 503)
    ├── RequestError        an HTTP request qa-serve refuses, with its status code
    ├── RunError            a training run directory that is missing, incomplete or inconsistent
    ├── TrainError          training could not finish correctly (e.g. data-parallel replicas diverged)
    ├── ExportError         the export could not be written
    │   └── ParityError     an exported graph does not answer as the eager model does
    ├── BundleError         a bundle refused at load (missing/extra file, hash, format, mismatch, signature)
    └── BatchError          stored questions that cannot be answered as a whole (unreadable file, no
                            question column, missing optional dependency); a bad *row* is never one
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "RnnqaError",
    "DataError",
    "ConfigError",
    "QuestionError",
    "QuestionTypeError",
    "Overloaded",
    "RequestError",
    "RunError",
    "TrainError",
    "ExportError",
    "ParityError",
    "BundleError",
    "BatchError",
]


class RnnqaError(Exception):
    """Base class of every error rnnqa raises on purpose."""


class DataError(RnnqaError):
    """Training data that cannot be used, with the file and 1-based line number when known."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = self.path or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(RnnqaError, ValueError):
    """An option or configuration value that is out of range or inconsistent."""


class QuestionError(RnnqaError, ValueError):
    """A question that cannot be asked: "question is empty" (only space characters) or "question has no words"."""


class QuestionTypeError(RnnqaError, TypeError):
    """A question that is not a ``str``, or one ``str`` where a sequence of questions is expected."""


class Overloaded(RnnqaError):
    """The queue is full, or the request waited past its deadline: try again later (HTTP 503)."""


class RequestError(RnnqaError):
    """An HTTP request qa-serve refuses; ``status`` is the code it answers with, ``headers`` any it must add
    (``Allow`` on a 405)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers


class RunError(RnnqaError):
    """A training run directory that cannot be loaded."""


class TrainError(RnnqaError):
    """Training ran but its result cannot be trusted (data-parallel replicas that differ)."""


class ExportError(RnnqaError):
    """The export could not be written."""


class ParityError(ExportError):
    """An exported graph disagrees with the eager model; ``failures`` lists every mismatch."""

    def __init__(self, failures: list[str]):
        self.failures = list(failures)
        lines = "\n  - ".join(self.failures)
        super().__init__(f"parity validation failed ({len(self.failures)} problem(s)):\n  - {lines}")


class BundleError(RnnqaError):
    """A bundle refused at load; names the file and the reason."""

    def __init__(self, file: str, reason: str):
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


class BatchError(RnnqaError):
    """A file of stored questions (or its engine) that cannot be used as a whole; names the file.
    A bad row is not an error: it gets an ``error`` text in the output and the job goes on."""
