"""Small file helpers shared by every stage: atomic directories, JSON, hashing. Pure Python."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnqa.errors import RnnqaError

STAGING_PREFIX = ".rnnqa-staging-"


@contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool, error: type[RnnqaError]) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success it replaces ``target``.

    On any exception (or a kill) the staging directory is what is left behind, never a half-written
    ``target``: loaders only look at ``target``. An existing ``target`` is swapped out by two renames
    and then deleted, so it stays whole until the new one is complete.

    Raises:
        error: ``target`` exists and ``overwrite`` is False, or is not a directory.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise error(f"{target} already exists (use --force to replace it)")
    if target.exists() and not target.is_dir():
        raise error(f"{target} exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX + target.name + "-", dir=target.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a run or bundle gets the usual mode
    try:
        yield staging
        _fsync_tree(staging)
        old = None
        if target.exists():
            old = target.with_name(f"{STAGING_PREFIX}{target.name}-old-{os.getpid()}")
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
