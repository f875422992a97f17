from click.testing import CliRunner

from rnnqa.export.cli import main


def test_qa_export_prints_the_parity_summary_and_refuses_to_overwrite(make_run, tmp_path):
    out = tmp_path / "bundle"
    first = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("parity OK on ") and f"wrote {out}" in first.output
    again = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(out)])
    assert again.exit_code == 1
    assert again.output.strip() == f"error: {out} already exists (use --force to replace it)"
    forced = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(out), "--force", "--threshold", "0.7"])
    assert forced.exit_code == 0, forced.output
    assert '"threshold": 0.7' in (out / "manifest.json").read_text()


def test_missing_run_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, [str(tmp_path / "nope"), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'nope'}: no such run directory (train one with qa-train)"


def test_incomplete_run_is_one_clear_line(make_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(make_run("gru"), run)
    (run / "model.pt").write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(main, [str(run), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and "cannot load weights" in result.output and isinstance(result.exception, SystemExit)
    (run / "vocab.json").unlink()
    result = CliRunner().invoke(main, [str(run), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and "incomplete run, missing vocab.json" in result.output
    assert not (tmp_path / "b").exists()


def test_no_hf_tokenizer_leaves_out_tokenizer_json_and_the_bundle_still_loads(make_run, tmp_path):
    import json

    from rnnqa.runtime import QAModel

    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, [str(make_run("gru")), "--out", str(out), "--no-hf-tokenizer"])
    assert result.exit_code == 0, result.output
    assert not (out / "tokenizer.json").exists() and not (out / "tokenizer_config.json").exists()
    assert "tokenizer.json" not in json.loads((out / "manifest.json").read_text())["files"]
    assert QAModel.load(out).answer("What is the capital of Peru?").text
