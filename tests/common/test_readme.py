"""Every example in README.md runs as printed, in order, in a fresh copy of the repository after `make demo`.

The copy holds the tracked files, the test's venv and `clients/js/node_modules` (links: the same installed
rnnqa and npm packages, their make stamps kept newer than what they depend on, so no make target
reinstalls). The files a reader brings are written first: `my_questions.csv`, `questions.txt` and
`tickets.parquet`. Each `bash` line runs with `bash -o pipefail -c` and must exit 0; each `python` block
runs in the venv's Python and each `js` block as an ES module in the copy's root (after the README's own
`npm install` line put `rnnqa` there). Servers (`qa-serve`, `make web`) start in the background on an
ephemeral port in place of 8000, must accept connections, and stop at the end of their block.

Not run, and why: `make test` (this test runs inside it); the several-machines torchrun line and anything
for a GPU are comments in the README, so nothing of them runs. Without Node the JavaScript lines are skipped
and said so (with RNNQA_REQUIRE_JS=1, as in CI, they must run).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clients.node import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(bash|python|js)\n(.*?)^```", re.S | re.M)
SERVERS = (".venv/bin/qa-serve", "make web")
NEEDS_NODE = ("npm ", "node ", "make js", "make web")
LINE_TIMEOUT = 600

pytestmark = pytest.mark.slow


def readme_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_examples_of_every_kind():
    kinds = [kind for kind, _ in readme_blocks()]
    assert kinds[0] == "bash" and "python" in kinds and "js" in kinds
    assert "make demo" in readme_blocks()[0][1] and "make test" in readme_blocks()[0][1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_of_the_repository(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    venv = Path(sys.prefix)
    (target / ".venv").symlink_to(venv, target_is_directory=True)
    stamp = venv / ".rnnqa-installed"
    if stamp.exists():  # make's install target must see the venv as up to date
        os.utime(target / "pyproject.toml", (stamp.stat().st_mtime - 1,) * 2)
    modules = ROOT / "clients" / "js" / "node_modules"
    if modules.is_dir():
        (target / "clients" / "js" / "node_modules").symlink_to(modules, target_is_directory=True)
        lock = modules / ".package-lock.json"
        if lock.exists():
            os.utime(target / "clients" / "js" / "package-lock.json", (lock.stat().st_mtime - 1,) * 2)
    return target


def what_a_reader_brings(root: Path) -> None:
    pairs = [("What is the capital of Peru?", "Lima"), ("Who painted Guernica?", "Pablo Picasso"),
             ("How many legs does a spider have?", "Eight"), ("What colour is the sky on a clear day?", "Blue"),
             ("Who wrote Hamlet?", "William Shakespeare"), ("What is the largest ocean?", "The Pacific"),
             ("What gas do plants take in?", "Carbon dioxide"), ("How many days are in a week?", "Seven")]
    with open(root / "my_questions.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("question", "answer"), *pairs])
    (root / "questions.txt").write_text("What is the capital of Peru?\nWho painted Guernica?\nWhat is love?\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2, 3], "question": [q for q, _ in pairs[:3]]}), root / "tickets.parquet")


def wait_for_port(port: int, process: subprocess.Popen, line: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{line!r} exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{line!r} did not listen on {port} within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_every_readme_example_runs_as_printed(tmp_path, capsys):
    root = copy_of_the_repository(tmp_path / "clone")
    what_a_reader_brings(root)
    node = shutil.which("node") is not None and (ROOT / "clients" / "js" / "node_modules").is_dir()
    skipped, outputs = [], []
    env = {**os.environ}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != Path(sys.prefix) / "bin")

    def run(command: list[str], label: str) -> str:
        started = time.monotonic()
        result = subprocess.run(command, cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=LINE_TIMEOUT)
        assert result.returncode == 0, f"{label!r} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs.append((label, result.stdout))
        print(f"ran {label!r}: {time.monotonic() - started:.1f} s")
        return result.stdout

    for kind, text in readme_blocks():
        if kind == "js":
            if not node:
                skipped.append("the JavaScript block")
                continue
            (root / "readme-example.mjs").write_text(text, encoding="utf-8")
            run(["node", "readme-example.mjs"], "the JavaScript block")
            continue
        if kind == "python":
            (root / "readme-example.py").write_text(text, encoding="utf-8")
            run([str(root / ".venv" / "bin" / "python"), "readme-example.py"], "a Python block")
            continue
        port = free_port()
        env["WEB_PORT"] = str(port)
        servers = []
        try:
            for line in text.splitlines():
                if not line.strip() or line.lstrip().startswith("#") or line.startswith("make test"):
                    continue
                if line.startswith(NEEDS_NODE) and not node:
                    skipped.append(line)
                    continue
                line = line.replace("--port 8000", f"--port {port}").replace("localhost:8000", f"localhost:{port}")
                if line.startswith(SERVERS):
                    process = subprocess.Popen(["bash", "-c", line], cwd=root, env=env, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
                    servers.append(process)
                    wait_for_port(port, process, line)
                    continue
                run(["bash", "-o", "pipefail", "-c", line], line)
        finally:
            for process in servers:
                stop(process)
    if skipped:
        with capsys.disabled():
            print(f"\nREADME lines skipped without Node: {skipped}")
        assert not REQUIRED, f"RNNQA_REQUIRE_JS=1 but Node is missing: {skipped} did not run"
    printed = dict(outputs)
    assert any(out.strip() == "Lima" for label, out in outputs if label.startswith('.venv/bin/qa-ask "What is the capital'))
    assert "".join(out for label, out in outputs if label == "a Python block").startswith("Lima ")
    assert len((root / "answers.jsonl").read_text().splitlines()) == 3
    assert any("Lima" in out for label, out in outputs if label.startswith("curl"))
    if node:
        assert printed["the JavaScript block"].startswith("Lima ")
