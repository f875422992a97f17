"""``qa-ask --input … --engine ray``: the stored-questions job on Ray Data (the ``ray`` extra).

Reads the input as a stream (``read_parquet`` / ``read_csv`` / ``read_json(lines=True)``), answers it with
``map_batches`` over a pool of :class:`~rnnqa.batch.column.BatchAnswerer` actors (each loads the bundle
once), keeps the input's row order, and writes a directory of Parquet or CSV files, ``part-000000.*`` in
row order, into a staging directory that replaces the output atomically. Imported only for this engine.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path

from rnnqa.batch.column import QUESTION_COLUMN, BatchAnswerer, answer_fields
from rnnqa.batch.files import DEFAULT_BATCH_SIZE, Summary, check_output_path
from rnnqa.batch.parquet_io import import_pyarrow
from rnnqa.batch.formats import open_reader
from rnnqa.batch.table_io import EXTENSIONS, check_columns, file_format
from rnnqa.errors import BatchError, ConfigError
from rnnqa.fileio import atomic_directory
from rnnqa.runtime.bundle import load_bundle
from rnnqa.runtime.signature import resolve_public_key

try:
    import ray
    import ray.data
    from ray.data import Datasink
    from ray.data.block import BlockAccessor
except ImportError as exc:
    raise BatchError("--engine ray needs Ray Data: pip install 'rnnqa[ray]'") from exc

OUTPUT_FORMATS = ("parquet", "csv")
PART_FILES = ("part-*.parquet", "part-*.csv")  # what a previous output holds, and all it may hold to be replaced
BLOCK_BYTES = 4 << 20  # Ray blocks of ~4 MiB: a one-file input still feeds every actor
_READ_CPUS = 1  # what one Ray read or write task asks for (Ray's default)


# Answering actors are not restarted: Ray restarts an actor whose constructor arguments sit in the object
# store unreliably (ray-project/ray#53727) and logs a line per actor saying so. A lost actor fails the job
# and, the output being staged, leaves the previous one as it was; run it again.
NO_RESTARTS = {"max_restarts": 0}


def _directory_format(output: Path, output_format: str | None, source: str) -> str:
    """The output directory's format: named, else its extension's, else the input's if Ray writes it, else
    Parquet — a directory such as ``answered/`` has no extension to tell."""
    if output_format is not None or output.suffix.lower() in EXTENSIONS:
        return file_format(output, output_format)
    return source if source in OUTPUT_FORMATS else "parquet"


def answer_with_ray(bundle_dir: str | Path, input: str | Path, output: str | Path, *,
                    input_format: str | None = None, output_format: str | None = None,
                    batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None, address: str | None = None,
                    threshold: float | None = None, threads: int | None = None, public_key: str | Path | None = None,
                    progress: bool = False) -> Summary:
    """Answer every question of ``input`` into the directory ``output`` on Ray Data.

    Args:
        bundle_dir: the bundle; every Ray node must see it at this path.
        input: a CSV, JSON Lines or Parquet file with a ``question`` column (read with Arrow: every CSV
            column as text, JSON and Parquet types as Arrow reads them).
        output: the directory to write (``part-*.parquet`` or ``part-*.csv``, by ``output_format``, else
            its extension, else the input's format where it is one of those, else Parquet), replaced
            atomically; an existing one must hold nothing but such files.
        batch_size: rows per ``map_batches`` batch.
        workers: answering actors; default the cluster's CPUs less one (at least one).
        address: an existing Ray cluster this process runs on (``auto``, on a head or worker node that sees
            the bundle, input and output at the same paths); default: a local one, started and stopped for
            this job (an already initialised Ray is used as it is). Ray Client (``ray://``) is refused: the
            staging directory would be on the client's disk, not the cluster's.
        threshold, threads, public_key: as for :class:`~rnnqa.runtime.QAModel` (the key, checked here once
            before Ray starts, must also be at this path on every node).
        progress: show Ray Data's progress bars.

    Returns:
        Rows written and rows with an ``error``.

    Raises:
        BatchError: the input has no ``question`` column (or a column the output adds), is not a file Arrow
            can read, the output format is not Parquet or CSV, the output is a file, holds the input or
            holds anything but a previous output's files, ``address`` is a ``ray://`` one, or the cluster
            has under 2 CPUs. Everything but the cluster's size is checked before Ray starts; the output is
            then untouched.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if address is not None and address.lower().startswith("ray://"):
        raise BatchError(f"--address {address}: Ray Client is not supported (the output is staged on this "
                         "machine's disk); run qa-ask on a node of the cluster with --address auto, with the "
                         "bundle, input and output on a filesystem shared at the same paths")
    input, output = Path(input).resolve(), Path(output).resolve()
    source = file_format(input, input_format)
    target = _directory_format(output, output_format, source)
    if target not in OUTPUT_FORMATS:
        raise BatchError(f"{output}: --engine ray writes {' or '.join(OUTPUT_FORMATS)}, not {target}")
    check_output_path(input, output)
    check_output_directory(input, output)
    reader = open_reader(input, source, batch_size)
    reader.close()
    check_columns(input, reader.columns)
    key = resolve_public_key(public_key)
    if key is not None:  # refused here with the reason, not as an actor that died
        load_bundle(bundle_dir, public_key=key)
    started = _start_ray(address)
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        workers = workers or max(1, int(cpus) - 1)
        answerer = {"bundle_dir": str(Path(bundle_dir).resolve()), "column": QUESTION_COLUMN, "threshold": threshold,
                    "threads": threads, "public_key": None if key is None else str(key.path.resolve())}
        with _data_context(progress), atomic_directory(output, overwrite=True, error=BatchError) as staging:
            with warnings.catch_warnings():  # Ray 2.60 deprecates ray_remote_args (gone in 2.64) with no
                warnings.simplefilter("ignore", DeprecationWarning)  # named max_restarts to replace it yet
                dataset = _read(input, source, reader.columns).map_batches(
                    BatchAnswerer, fn_constructor_kwargs=answerer, batch_format="pyarrow", batch_size=batch_size,
                    compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=_actor_cpus(cpus, workers),
                    **NO_RESTARTS)
            sink = OrderedFileSink(str(staging), target)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.data")
                try:
                    dataset.write_datasink(sink)
                except ray.exceptions.RayError as exc:
                    raise BatchError(f"{input}: the Ray job failed: {_cause(exc)}") from exc
            check_output_directory(input, output)  # again: nothing else came into it while the job ran
        return Summary(sink.rows, sink.errors, output)
    finally:
        if started:
            ray.shutdown()


def check_output_directory(input: Path, output: Path) -> None:
    """Refuse an ``output`` that replacing would lose data: an existing file, a directory that holds the
    input, or one that holds anything but the ``part-*.parquet`` / ``part-*.csv`` files of a previous output.
    Both paths are resolved.

    Raises:
        BatchError: naming ``output`` and what it holds.
    """
    if output.exists() and not output.is_dir():
        raise BatchError(f"{output}: is a file; --engine ray writes a directory of files, so name a new directory")
    if input.is_relative_to(output):
        raise BatchError(f"{output}: holds the input {input}; choose another directory for the output")
    try:
        others = sorted(p.name for p in output.iterdir() if not _is_part_file(p)) if output.is_dir() else []
    except OSError as exc:
        raise BatchError(f"{output}: cannot list: {exc.strerror or exc}") from exc
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise BatchError(f"{output}: holds {shown}, not only the {' / '.join(PART_FILES)} files of a previous "
                         "output, and would be replaced; choose a new or empty directory")


def _is_part_file(path: Path) -> bool:
    return any(fnmatchcase(path.name, pattern) for pattern in PART_FILES) and path.is_file() and not path.is_symlink()


@contextmanager
def _data_context(progress: bool) -> Iterator[None]:
    """Ray Data's settings for this job — rows kept in order, ~4 MiB blocks, progress bars or not — put back
    as they were afterwards: the DataContext belongs to the process, and so to the caller's own pipelines."""
    context = ray.data.DataContext.get_current()
    options = context.execution_options
    saved = options.preserve_order, context.target_max_block_size, context.enable_progress_bars
    options.preserve_order, context.target_max_block_size, context.enable_progress_bars = True, BLOCK_BYTES, progress
    try:
        yield
    finally:
        options.preserve_order, context.target_max_block_size, context.enable_progress_bars = saved


def _start_ray(address: str | None) -> bool:
    """Connect to ``address`` (or start a local Ray) unless Ray is initialised; True if this call started it."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise BatchError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}") from exc
    # Not Ray Data's per-run INFO lines and tips, nor its traceback of a failed task: that comes back to
    # this process as an exception, reported in one line.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    return True


def _actor_cpus(cpus: float, workers: int) -> float:
    """CPUs each actor reserves: at most one, and never so many that no read or write task can run —
    with every slot taken by actors, Ray would never schedule a read and the job would hang.

    Raises:
        BatchError: the cluster has under 2 CPUs.
    """
    spare = cpus - _READ_CPUS
    if spare < 1:
        raise BatchError(f"--engine ray needs a cluster with at least 2 CPUs; this one has {cpus:g}")
    return min(1.0, int(spare / workers * 100) / 100) or 0.01


def _read(input: Path, fmt: str, columns: list[str]):
    if fmt == "parquet":
        return ray.data.read_parquet(str(input))
    if fmt == "jsonl":
        return ray.data.read_json(str(input), lines=True, file_extensions=None)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    as_text = pacsv.ConvertOptions(column_types={c: pa.string() for c in columns})  # as the local engine reads it
    return ray.data.read_csv(str(input), convert_options=as_text, file_extensions=None)


class OrderedFileSink(Datasink):
    """Each Ray write task writes its blocks, in order, to ``part-<task index>.<format>`` — the task index
    follows the row order when ``preserve_order`` is on, so the files sorted by name are the rows in order.
    (Ray's own ``write_parquet`` writes a task's blocks with a multi-threaded Arrow writer that can reorder
    them within a file.) Checks that the task indices run 0, 1, 2 … with no gap or repeat, and counts the
    rows and errors written, for the summary."""

    def __init__(self, path: str, fmt: str):
        self.path, self.fmt = path, fmt
        self.rows = self.errors = 0

    def write(self, blocks: Iterable, ctx) -> tuple[int, int, int]:
        """Write ``blocks`` to this task's file; return ``(task index, rows, rows with an error)``."""
        pa, pq = import_pyarrow()
        import pyarrow.csv as pacsv

        tables = [t for t in (BlockAccessor.for_block(b).to_arrow() for b in blocks) if t.num_rows]
        if not tables:
            return ctx.task_idx, 0, 0
        table = pa.concat_tables(tables, promote_options="permissive")
        pickled = [f.name for f in table.schema if isinstance(f.type, pa.ExtensionType)
                   and "pickled" in str(f.type)]
        if pickled:  # Ray's fallback for a column Arrow cannot type: never written as pickles
            raise ValueError(f"column(s) {', '.join(pickled)} mix value types, which Arrow cannot store; "
                             "use --engine local")
        for f in answer_fields(pa):  # a batch where every row is (or none is) an error has null-typed columns
            table = table.set_column(table.schema.get_field_index(f.name), f, table[f.name].cast(f.type))
        path = os.path.join(self.path, f"part-{ctx.task_idx:06d}.{self.fmt}")
        if self.fmt == "parquet":
            pq.write_table(table, path)
        else:
            pacsv.write_csv(table, path)
        return ctx.task_idx, table.num_rows, table.num_rows - table["error"].null_count

    def on_write_complete(self, write_result) -> None:
        """Count the rows and errors; refuse task indices that are not 0 … n-1, where the files' name order
        would not be the row order.

        Raises:
            BatchError: the indices have a gap or a repeat (the output is then not put in place).
        """
        tasks = sorted(task for task, _, _ in write_result.write_returns)
        if tasks != list(range(len(tasks))):
            shown = ", ".join(map(str, tasks[:20])) + (" …" if len(tasks) > 20 else "")
            raise BatchError(f"Ray numbered its {len(tasks)} write tasks {shown}, not 0 to {len(tasks) - 1}, so the "
                             "files' order may not be the rows' order; the output was not written")
        self.rows = sum(rows for _, rows, _ in write_result.write_returns)
        self.errors = sum(errors for _, _, errors in write_result.write_returns)


def _cause(exc: BaseException) -> str:
    """The first line of the exception a Ray task raised (a RayTaskError carries it as ``cause``; Ray Data
    appends its retry advice below)."""
    cause = getattr(exc, "cause", None) or exc
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
