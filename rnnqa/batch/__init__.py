"""Answering stored questions: a file a chunk at a time (``qa-ask --input/--output``), or on Ray Data.

``answer_column`` is the engine-free function every engine calls per batch; ``BatchAnswerer`` is the same as
a callable class that loads the bundle once (Ray Data's ``map_batches``, Dask, Spark). Imports only the
runtime (numpy, onnxruntime): pyarrow is loaded for Parquet, ray for ``--engine ray``. docs/batch.md.
"""

from rnnqa.batch.column import ANSWER_COLUMNS, QUESTION_COLUMN, BatchAnswerer, answer_column
from rnnqa.batch.files import Summary, answer_file

__all__ = ["ANSWER_COLUMNS", "QUESTION_COLUMN", "BatchAnswerer", "Summary", "answer_column", "answer_file"]
