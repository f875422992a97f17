"""Kill qa-train / qa-export mid-write: the previous run or bundle stays loadable, nothing half-written
is left where a loader looks."""

import shutil
import signal
import subprocess
import sys
import time

import pytest

from rnnqa.errors import BundleError, RunError
from rnnqa.fileio import STAGING_PREFIX
from rnnqa.runtime import QAModel
from rnnqa.runtime.bundle import load_bundle
from rnnqa.train.run import load_run


def start(module: str, *args: str) -> subprocess.Popen:
    code = f"import sys; from {module} import main; sys.argv[0] = 'x'; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_when(proc: subprocess.Popen, ready, extra_delay: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(extra_delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def staging_dirs(parent, name):
    return list(parent.glob(f"{STAGING_PREFIX}{name}-*"))


@pytest.mark.parametrize("delay", [0.0, pytest.param(0.01, marks=pytest.mark.slow), 0.05,
                                   pytest.param(0.2, marks=pytest.mark.slow)])
def test_killed_export_leaves_the_previous_bundle_loadable(make_run, make_bundle, tmp_path, delay):
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    before = (bundle / "manifest.json").read_bytes()
    proc = start("rnnqa.export.cli", str(make_run("gru")), "--out", str(bundle), "--force")
    kill_when(proc, lambda: staging_dirs(tmp_path, "bundle"), delay)
    model = QAModel.load(bundle)  # old or, if it finished, new — but always whole
    assert model.answer("what is the capital of peru").text
    if (bundle / "manifest.json").read_bytes() != before:
        assert proc.returncode == 0  # only a finished export may have replaced it
    for leftover in staging_dirs(tmp_path, "bundle"):
        with pytest.raises(BundleError):  # a half-written staging dir is never a loadable bundle
            if not (leftover / "manifest.json").exists():
                raise BundleError("manifest.json", "missing")
            load_bundle(leftover)


@pytest.mark.parametrize("wait_for_staging", [False, True], ids=["during-training", "during-save"])
def test_killed_training_leaves_the_previous_run_loadable(make_run, tmp_path, wait_for_staging):
    run = tmp_path / "run"
    shutil.copytree(make_run("gru"), run)
    before = (run / "model.pt").read_bytes()
    proc = start("rnnqa.train.cli", "--out", str(run), "--epochs", "40", "--no-early-stop", "-q",
                 "--hidden-dim", "16", "--device", "cpu")
    ready = (lambda: staging_dirs(tmp_path, "run")) if wait_for_staging else (lambda: False)
    kill_when(proc, ready, 0.0, timeout=60 if wait_for_staging else 1.5)
    loaded = load_run(run)
    assert loaded.vocab.answers
    if (run / "model.pt").read_bytes() != before:
        assert proc.returncode == 0
    for leftover in staging_dirs(tmp_path, "run"):
        try:
            load_run(leftover)
        except RunError:
            continue
        raise AssertionError(f"{leftover} is a half-written run a loader accepts")
