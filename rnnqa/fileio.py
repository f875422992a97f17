"""Small file helpers shared by every stage: atomic files and directories, JSON, hashing. Pure Python."""

from __future__ import annotations

import ctypes
import ctypes.util
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
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool, error: type[RnnqaError]) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success it replaces ``target``.

    On an exception the staging directory is removed; after a kill it stays behind under a
    ``.rnnqa-staging-`` name that no loader looks at, and the next write to ``target`` removes it.
    An existing ``target`` is swapped with the staging directory in one atomic ``renameat2``
    (``RENAME_EXCHANGE``, Linux) — at no instant is ``target`` missing or partial — and only then
    deleted. Where that call is unavailable, two renames are used instead.

    Raises:
        error: ``target`` exists and ``overwrite`` is False, or is not a directory.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise error(f"{target} already exists (use --force to replace it)")
    if target.exists() and not target.is_dir():
        raise error(f"{target} exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    prefix = f"{STAGING_PREFIX}{target.name}-{os.getpid()}-"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a run or bundle gets the usual mode
    try:
        yield staging
        _fsync_tree(staging)
        if target.exists() and _exchange(staging, target):
            return  # staging now holds the old contents; `finally` deletes them
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield the path of a new, empty temporary file beside ``target``; on success it replaces ``target``.

    The temporary file is fsynced and renamed over ``target`` (``os.replace``: readers see the old
    file or the new one, never a partial one), then the directory is fsynced. On any exception,
    KeyboardInterrupt included, the temporary file is removed and a previous ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; the output gets the usual mode
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _remove_stale_staging(target: Path) -> None:
    """Delete staging directories of ``target`` left by processes that no longer run."""
    for path in target.parent.glob(f"{STAGING_PREFIX}{target.name}-*-*"):
        pid = path.name[len(STAGING_PREFIX) + len(target.name) + 1 :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def write_json(path: Path, data: object, *, compact: bool = False) -> None:
    """UTF-8 JSON, indented for people, or on one line (``compact``) for tables only programs read."""
    text = json.dumps(data, ensure_ascii=False, **({"separators": (",", ":")} if compact else {"indent": 2}))
    # A lone surrogate (only ever inside a JSON string) is written as its JSON escape, e.g. \ud800.
    path.write_bytes((text + "\n").encode("utf-8", "backslashreplace"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
