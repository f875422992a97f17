"""Kill qa-train / qa-export mid-write with SIGKILL: the previous run or bundle stays loadable and
answers as before, and nothing half-written is left where a loader looks.

Each kill is asserted (return code -9, after the child reached the point of interest), and the
companion tests run the same kills with ``atomic_directory`` replaced by an in-place write in the
child, to show these checks catch a write that is not atomic.
"""

import shutil
import signal
import subprocess
import sys
import time

import pytest

from rnnqa.errors import RnnqaError, RunError
from rnnqa.fileio import STAGING_PREFIX
from rnnqa.runtime import QAModel
from rnnqa.runtime.bundle import load_bundle
from rnnqa.train.run import load_run

# What the companion tests put in the child before rnnqa imports it: a write straight into the target.
IN_PLACE = """
import contextlib, pathlib, shutil, rnnqa.fileio
@contextlib.contextmanager
def in_place(target, *, overwrite, error):
    target = pathlib.Path(target)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    yield target
rnnqa.fileio.atomic_directory = in_place
"""
# What the child runs to stop for good between the run's first file (model.pt) and its second: saving
# a small run takes milliseconds, too short to catch from outside. The marker says it got there.
STALL_SAVE = """
import pathlib, time, rnnqa.train.run
def stall(*args, **kwargs):
    pathlib.Path({marker!r}).write_text("saving")
    time.sleep(300)
rnnqa.train.run.write_json = stall
"""
QUESTION = "what is the capital of peru"


def start(module: str, args: list[str], log, broken: bool, prelude: str = "") -> subprocess.Popen:
    code = f"{IN_PLACE if broken else ''}\n{prelude}\nimport sys\nfrom {module} import main\nsys.argv[0] = 'x'\nmain()"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=log, stderr=subprocess.STDOUT)


def kill_when(proc: subprocess.Popen, ready, delay: float, log_path, timeout: float = 120) -> None:
    """SIGKILL ``proc`` ``delay`` seconds after ``ready()``; fails unless it was killed still running."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready():
        assert time.monotonic() < deadline, "the child never reached the point to kill it at"
        time.sleep(0.002)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (
        f"the child was not killed mid-way (exit code {proc.returncode}):\n{log_path.read_text()[-3000:]}")


def staging_dirs(parent, name):
    return list(parent.glob(f"{STAGING_PREFIX}{name}-*"))


def kill_export(make_run, make_bundle, tmp_path, delay: float, broken: bool):
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    before = QAModel.load(bundle).answer(QUESTION)
    log_path = tmp_path / "export.log"
    with open(log_path, "wb") as log:
        proc = start("rnnqa.export.cli", [str(make_run("gru")), "--out", str(bundle), "--force"], log, broken)
        # the point of no return: the new bundle is being written (staging beside it, or in place)
        kill_when(proc, lambda: staging_dirs(tmp_path, "bundle") or not (bundle / "manifest.json").exists(),
                  delay, log_path)
    return bundle, before


def kill_training(make_run, tmp_path, during: str, broken: bool):
    run = tmp_path / "run"
    shutil.copytree(make_run("gru"), run)
    before = (run / "model.pt").read_bytes()
    log_path, marker = tmp_path / "train.log", tmp_path / "saving"
    with open(log_path, "wb") as log:
        epochs = "400" if during == "training" else "2"  # killed after 0.3 s of training, or when it saves
        prelude = STALL_SAVE.format(marker=str(marker)) if during == "save" else ""
        proc = start("rnnqa.train.cli", ["--out", str(run), "--epochs", epochs, "-q", "--hidden-dim", "16",
                                         "--device", "cpu"], log, broken, prelude)
        if during == "training":  # qa-train says so on stderr once the data is read and training starts
            ready = lambda: b"training on" in log_path.read_bytes()  # noqa: E731
            delay = 0.3
        else:  # model.pt is written and the rest of the run is not
            ready = marker.exists
            delay = 0.0
        kill_when(proc, ready, delay, log_path)
    return run, before


@pytest.mark.parametrize("delay", [0.0, pytest.param(0.01, marks=pytest.mark.slow), 0.05,
                                   pytest.param(0.2, marks=pytest.mark.slow)])
def test_killed_export_leaves_the_previous_bundle_answering_as_before(make_run, make_bundle, tmp_path, delay):
    bundle, before = kill_export(make_run, make_bundle, tmp_path, delay, broken=False)
    assert QAModel.load(bundle).answer(QUESTION) == before  # the old bundle, whole
    for leftover in staging_dirs(tmp_path, "bundle"):  # a half-written staging dir is never a loadable bundle
        with pytest.raises(RnnqaError):
            load_bundle(leftover)


def test_a_non_atomic_export_killed_alike_loses_the_bundle(make_run, make_bundle, tmp_path):
    bundle, _ = kill_export(make_run, make_bundle, tmp_path, 0.0, broken=True)
    with pytest.raises(RnnqaError):
        QAModel.load(bundle)


@pytest.mark.parametrize("during", ["training", "save"])
def test_killed_training_leaves_the_previous_run_as_it_was(make_run, tmp_path, during):
    run, before = kill_training(make_run, tmp_path, during, broken=False)
    assert (run / "model.pt").read_bytes() == before and load_run(run).vocab.answers
    for leftover in staging_dirs(tmp_path, "run"):
        with pytest.raises(RunError):
            load_run(leftover)


def test_a_non_atomic_run_write_killed_alike_loses_the_run(make_run, tmp_path):
    run, before = kill_training(make_run, tmp_path, "save", broken=True)
    with pytest.raises(RnnqaError):
        load_run(run)
