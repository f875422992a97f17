"""The runtime must stay light: importing it, or running qa-ask (on questions or a CSV/JSON Lines file), loads
neither torch nor pandas, nor pyarrow or ray (the ray extra, for Parquet and --engine ray)."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "pyarrow", "ray", "onnx", "matplotlib", "rnnqa.train", "rnnqa.export", "rnnqa.data.table")

CHECK = """
import sys
{code}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {{"torch", "pandas", "pyarrow", "ray", "matplotlib", "onnx"}}
               or m.startswith(("rnnqa.train", "rnnqa.export", "rnnqa.data.table")))
print("HEAVY:" + ",".join(heavy))
"""


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK.format(code=code)], capture_output=True, text=True, check=True)
    return out.stdout


def test_importing_the_runtime_loads_nothing_heavy():
    code = "import rnnqa.runtime, rnnqa.ask.cli, rnnqa.batch.column, rnnqa.batch.files, rnnqa.batch.table_io"
    assert run_python(code).splitlines()[-1] == "HEAVY:"


def test_running_qa_ask_loads_nothing_heavy(make_bundle):
    code = (
        "from rnnqa.ask.cli import main\n"
        f"try:\n    main(['--bundle', {str(make_bundle('gru'))!r}, 'what is the capital of peru'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    lines = run_python(code).splitlines()
    assert len(lines) == 2 and lines[-1] == "HEAVY:"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_answering_a_csv_or_jsonl_file_loads_nothing_heavy(make_bundle, tmp_path, suffix):
    source = tmp_path / f"in{suffix}"
    source.write_text("question\nWhat is the capital of Peru?\n" if suffix == ".csv"
                      else '{"question": "What is the capital of Peru?"}\n')
    args = ["--bundle", str(make_bundle("gru")), "--input", str(source), "--output", str(tmp_path / f"out{suffix}")]
    code = (
        "from rnnqa.ask.cli import main\n"
        f"try:\n    main({args!r})\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    assert run_python(code).splitlines()[-1] == "HEAVY:"
    assert (tmp_path / f"out{suffix}").exists()


@pytest.mark.parametrize("module", HEAVY[:4])
def test_the_check_itself_sees_heavy_modules(module):
    assert module in run_python(f"import {module}")


def test_without_a_key_nothing_of_the_sign_extra_is_imported(make_bundle):
    """model_signing (and sigstore, cryptography, OpenSSL under it) load only when a public key is given."""
    code = (
        "from rnnqa.ask.cli import main\n"
        f"try:\n    main(['--bundle', {str(make_bundle('gru'))!r}, 'what is the capital of peru'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "print('SIGN:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'model_signing', 'sigstore', 'cryptography', 'OpenSSL'})))\n"
    )
    assert run_python(code).splitlines()[-2] == "SIGN:"


def test_a_declared_tokenizer_bundle_does_not_import_the_version_1_rules(make_bundle):
    """rnnqa.data.legacy_tokenizer (bundles from before declared tokenizers) loads only for such a bundle."""
    code = (
        "from rnnqa.runtime import QAModel\n"
        f"QAModel.load({str(make_bundle('gru'))!r}).answer('what is the capital of peru')\n"
        "print('LEGACY:' + str('rnnqa.data.legacy_tokenizer' in sys.modules))\n"
        "from rnnqa.data.text import tokenizer_from_json\n"
        "tokenizer_from_json({'kind': 'notebook'})\n"
        "print('LEGACY:' + str('rnnqa.data.legacy_tokenizer' in sys.modules))\n"
    )
    assert [line for line in run_python(code).splitlines() if line.startswith("LEGACY:")] == ["LEGACY:False",
                                                                                          "LEGACY:True"]
