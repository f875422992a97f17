"""The edge-box install: `pip install .` alone (no extras) answers questions without torch or pandas."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from rnnqa.data.table import load_qa_csv

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_base_install_answers_every_seed_question(tmp_path, seed_bundle, seed_csv):
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "-q", str(ROOT)], check=True)
    installed = subprocess.run([bin_dir / "python", "-m", "pip", "list", "--format=freeze"],
                               capture_output=True, text=True, check=True).stdout.lower()
    assert "onnxruntime==" in installed and "numpy==" in installed
    assert "torch==" not in installed and "pandas==" not in installed

    pairs = load_qa_csv(seed_csv)
    as_args = subprocess.run([bin_dir / "qa-ask", "--bundle", str(seed_bundle), *pairs.questions],
                             capture_output=True, text=True, cwd=tmp_path)
    via_stdin = subprocess.run([bin_dir / "qa-ask", "--bundle", str(seed_bundle)], input="\n".join(pairs.questions),
                               capture_output=True, text=True, cwd=tmp_path)
    for result in (as_args, via_stdin):
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == pairs.answers


@pytest.mark.slow
def test_the_sign_extra_installs_imports_and_verifies(tmp_path, signed_bundle, make_keys):
    """`pip install .[sign]` in a fresh venv: model_signing imports (it needs pyOpenSSL, which it does not
    declare), and qa-ask --public-key and model_signing's own verifier accept the signed bundle."""
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "-q", f"{ROOT}[sign]"], check=True)
    subprocess.run([bin_dir / "python", "-c", "import model_signing.signing, model_signing.verifying"], check=True)
    public = str(make_keys()[1])
    answered = subprocess.run([bin_dir / "qa-ask", "--bundle", str(signed_bundle), "--public-key", public,
                               "What is the capital of Peru?"], capture_output=True, text=True, cwd=tmp_path)
    assert answered.returncode == 0, answered.stderr
    verified = subprocess.run([bin_dir / "model_signing", "verify", "key", str(signed_bundle), "--signature",
                               str(signed_bundle / "model.sig"), "--public_key", public], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
