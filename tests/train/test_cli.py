import csv
import errno
import json

from click.testing import CliRunner

from rnnqa.bundle_format import DEFAULT_THRESHOLD
from rnnqa.train.cli import main


def run(args):
    return CliRunner().invoke(main, args)


def test_qa_train_writes_a_complete_run(seed_csv, tmp_path):
    out = tmp_path / "run"
    result = run([str(seed_csv), "--out", str(out), "--device", "cpu", "--cell", "gru", "--val-split", "0.05"])
    assert result.exit_code == 0, result.output
    assert "accuracy 1.000" in result.output and f"wrote {out}" in result.output
    for name in ("model.pt", "config.json", "vocab.json", "metrics.csv", "plots/loss.png", "plots/accuracy.png"):
        assert (out / name).is_file(), name
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    assert float(rows[-1]["train_accuracy"]) == 1.0 and int(rows[-1]["epoch"]) == len(rows)
    assert (out / "plots/loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rnnqa-staging")]


def test_qa_train_uses_the_bundled_dataset_by_default(tmp_path):
    result = run(["--out", str(tmp_path / "run"), "--epochs", "1", "--hidden-dim", "8", "-q"])
    assert result.exit_code == 0, result.output
    assert "default_qa.csv" in result.output


def test_bad_csv_is_one_line_and_exit_1(write_csv, tmp_path):
    result = run([str(write_csv("question,answer\nq,\n")), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith("qa.csv:2: empty answer")
    assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "run").exists()


def test_a_val_split_the_shipped_data_cannot_give_is_refused_in_one_line(tmp_path):
    # 211 of its 218 answers have one question: a held-out one would have an answer never taught
    result = run(["--out", str(tmp_path / "run"), "--val-split", "0.1", "--epochs", "1", "-q"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.splitlines()[-1] == (
        "error: val_split 0.1 would hold out 22 of 218 questions, but only 7 can be: a held-out question needs "
        "another question with its answer left in training, and 206 of 211 answers have one question. Give "
        "--val-csv (questions reworded, as quality/default_reworded.csv is for the bundled data) or at most "
        "--val-split 0.03")
    assert not (tmp_path / "run").exists()


def test_failed_training_keeps_the_previous_run(seed_csv, tmp_path):
    out = tmp_path / "run"
    assert run([str(seed_csv), "--out", str(out), "--epochs", "1", "-q"]).exit_code == 0
    before = (out / "model.pt").read_bytes()
    result = run([str(seed_csv), "--out", str(out), "--lr", "-1"])
    assert result.exit_code == 1 and "lr must be" in result.output
    assert (out / "model.pt").read_bytes() == before


def test_a_run_that_fails_while_it_is_written_keeps_the_previous_run(seed_csv, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert run([str(seed_csv), "--out", str(out), "--epochs", "1", "-q"]).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(history, plots_dir):  # after model.pt, vocab.json and metrics.csv are in the new directory
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rnnqa.train.run.plot_history", disk_full)
    result = run([str(seed_csv), "--out", str(out), "--epochs", "2", "-q"])
    assert result.exit_code == 1 and "cannot write the run: No space left on device" in result.output, result.output
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging directory left behind


def test_bad_option_is_a_usage_error(tmp_path):
    result = run(["--cell", "transformer", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "transformer" in result.output


def test_notes_about_ignored_columns_and_merged_rows_are_printed(write_csv, tmp_path):
    path = write_csv("question,answer,source\nq one?,a,x\nq one,a,y\nq two,b,z\n")
    result = run([str(path), "--out", str(tmp_path / "run"), "--epochs", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "note: " in result.output and "ignored column(s) 'source'" in result.output
    assert "merged 1 duplicate row(s)" in result.output and "training on 2 question(s)" in result.output


def test_qa_train_reports_quality_on_validation_and_ood(seed_csv, write_csv, tmp_path):
    val = write_csv("question,answer\nWhich city is the capital of France?,Paris\n", name="val.csv")
    ood = tmp_path / "ood.txt"
    ood.write_text("How tall is the Burj Khalifa?\n")
    result = run([str(seed_csv), "--out", str(tmp_path / "run"), "--epochs", "5", "--val-csv", str(val),
                  "--ood", str(ood), "-q", "--threshold", str(DEFAULT_THRESHOLD)])  # given: no choosing
    assert result.exit_code == 0, result.output
    assert f"quality at threshold {DEFAULT_THRESHOLD:g}: 1 questions" in result.output and "1 out-of-domain" in result.output


def test_qa_train_options_reach_the_saved_configs(seed_csv, tmp_path):
    out, ood = tmp_path / "run", tmp_path / "ood.txt"
    ood.write_text("How tall is the Burj Khalifa?\n")
    result = run([str(seed_csv), "--out", str(out), "--epochs", "1", "--hidden-dim", "8", "-q", "--readout", "last",
                  "--masked-words", "0", "--tokenizer", "english", "--threshold", "0.3", "--ood", str(ood)])
    assert result.exit_code == 0, result.output
    assert "quality at threshold 0.3:" in result.output  # the report uses the run's threshold
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["readout"] == "last" and config["train"]["masked_words"] == 0.0
    assert config["train"]["threshold"] == 0.3
    declared = json.loads((out / "vocab.json").read_text())["tokenizer"]
    assert (declared["kind"], declared["version"], declared["drop_s_after_joiner"]) == ("english", 3, True)
    defaults = tmp_path / "defaults"
    assert run([str(seed_csv), "--out", str(defaults), "--epochs", "1", "--hidden-dim", "8", "-q"]).exit_code == 0
    config = json.loads((defaults / "config.json").read_text())
    assert config["model"]["readout"] == "max" and config["train"]["masked_words"] == 0.1
    assert config["train"]["tokenizer"] == "stem" and config["train"]["threshold"] == DEFAULT_THRESHOLD
    bad = run([str(seed_csv), "--out", str(tmp_path / "x"), "--readout", "mean"])
    assert bad.exit_code == 2 and "mean" in bad.output


def test_the_threshold_picks_itself_from_validation_data_unless_given(tmp_path):
    from pathlib import Path

    from rnnqa.eval.metrics import SWEEP_THRESHOLDS
    from rnnqa.eval.questions import DEFAULT_NEAR_MISS, DEFAULT_OOD

    quality = Path(__file__).resolve().parents[2] / "quality"
    data = ["--val-csv", str(quality / "default_reworded.csv"), "--ood", str(DEFAULT_OOD),
            "--near-miss", str(DEFAULT_NEAR_MISS), "--epochs", "20", "--hidden-dim", "32", "-q",
            "--device", "cpu"]
    out = tmp_path / "auto"
    result = run(["--out", str(out), *data, "--target-rejection", "0.8"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    chosen = config["train"]["threshold"]
    assert chosen in SWEEP_THRESHOLDS and f"threshold {chosen:g}: the most correct" in result.output
    assert any("chosen on the validation questions" in note for note in config["notes"])
    assert "near misses:" in result.output  # the report scores them too
    given = tmp_path / "given"
    result = run(["--out", str(given), *data, "--threshold", "0.42"])
    assert result.exit_code == 0, result.output
    assert json.loads((given / "config.json").read_text())["train"]["threshold"] == 0.42
