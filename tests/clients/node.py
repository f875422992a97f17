"""Running `node --test` from pytest: shared by the JavaScript runtime's and the served page's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "clients" / "js"
REQUIRED = os.environ.get("RNNQA_REQUIRE_JS") == "1"
SCREENSHOTS = ROOT / "artifacts" / "test-screenshots"


def need(condition: bool, reason: str) -> None:
    if not condition:
        if REQUIRED:
            pytest.fail(f"{reason} (RNNQA_REQUIRE_JS=1)")
        pytest.skip(reason)


def need_node() -> None:
    need(shutil.which("node") is not None, "node not found: the JavaScript tests did not run")
    need((JS / "node_modules" / "onnxruntime-node").is_dir(),
         "clients/js/node_modules missing: `make test` runs `npm ci` where npm exists")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "chromium not found: the browser test did not run (apt-get install -y chromium)")
    return path


def node_test(env: dict, *files: str) -> None:
    result = subprocess.run(["node", "--test", "--test-reporter=spec", *files], cwd=JS, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=600)
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "ℹ fail 0" in result.stdout and "ℹ skipped 0" in result.stdout  # every test ran
