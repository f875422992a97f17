import os

import pytest

from rnnqa import fileio
from rnnqa.errors import ExportError
from rnnqa.fileio import STAGING_PREFIX, atomic_directory


def test_new_directory_appears_only_when_complete(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target, overwrite=False, error=ExportError) as staging:
        (staging / "a.txt").write_text("new")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replacing_swaps_whole_directories(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target, overwrite=True, error=ExportError) as staging:
        (staging / "new.txt").write_text("new")
        assert (target / "old.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_inside_leaves_the_old_directory_and_no_staging(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True, error=ExportError) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refuses_without_overwrite_and_non_directories(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ExportError, match="--force"):
        with atomic_directory(tmp_path / "out", overwrite=False, error=ExportError):
            pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        with atomic_directory(tmp_path / "file", overwrite=True, error=ExportError):
            pass


def test_stale_staging_of_dead_processes_is_cleaned(tmp_path):
    dead = tmp_path / f"{STAGING_PREFIX}out-999999999-abc"
    live = tmp_path / f"{STAGING_PREFIX}out-{os.getpid()}-abc"
    other = tmp_path / f"{STAGING_PREFIX}other-999999999-abc"
    for p in (dead, live, other):
        p.mkdir()
    with atomic_directory(tmp_path / "out", overwrite=True, error=ExportError):
        pass
    assert not dead.exists() and live.exists() and other.exists()


def test_atomic_file_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with fileio.atomic_file(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old" and tmp.parent == tmp_path
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~fileio._umask()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_file_keeps_the_old_file_on_error(tmp_path, error):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(error):
        with fileio.atomic_file(target) as tmp:
            tmp.write_text("partial")
            raise error()
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
