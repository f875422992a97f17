import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from rnnqa.eval.cli import main
from rnnqa.eval.metrics import SWEEP_THRESHOLDS, pick_threshold, quality, reliability, sweep

PROBS = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
LABELS = np.array([0, 1, 1, 0])


def test_quality_counts():
    q = quality(PROBS, LABELS, 0.58, ood_probs=np.array([[0.5, 0.5], [0.95, 0.05]]))
    assert q.accuracy == 0.5  # rows 0 and 2 right
    assert q.coverage == 0.75 and q.correct_and_confident == 0.5
    assert q.confident_accuracy == pytest.approx(2 / 3)
    assert q.rejection_rate == 0.5 and q.ood_questions == 2
    assert "answered \"I don't know\"" in q.summary()


def test_quality_without_in_domain_questions_is_json_safe():
    q = quality(np.zeros((0, 2)), np.zeros(0, dtype=int), 0.5, np.array([[0.5, 0.5]]))
    assert math.isnan(q.accuracy) and json.loads(json.dumps(q.to_json()))["accuracy"] is None


def test_reliability_bins():
    bins = reliability(PROBS, LABELS, bins=5)
    assert sum(b["count"] for b in bins) == 4
    top = bins[-1]
    assert top["count"] == 1 and top["accuracy"] == 1.0 and top["confidence"] == 0.9


def test_qa_eval_scores_a_bundle(make_bundle, tmp_path, write_csv):
    csv = write_csv("question,answer\nWhich city is the capital of Peru?,Lima\nWho wrote Hamlet?,William Shakespeare\n")
    ood = tmp_path / "ood.txt"
    ood.write_text("How tall is the Burj Khalifa?\n\nWhat is the capital of Mongolia?\n")
    bundle = str(make_bundle("gru", epochs=30))
    result = CliRunner().invoke(main, [bundle, "--csv", str(csv), "--ood", str(ood), "--plot", str(tmp_path / "r.png"),
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["questions"] == 2 and report["ood_questions"] == 2 and 0 <= report["rejection_rate"] <= 1
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_qa_eval_errors_are_one_line(make_bundle, write_csv):
    bundle = str(make_bundle("gru", epochs=30))
    result = CliRunner().invoke(main, [bundle, "--csv", str(write_csv("question,answer\nq?,Atlantis\n"))])
    assert result.exit_code == 1 and "answer 'Atlantis' is not one the bundle knows" in result.output
    assert CliRunner().invoke(main, [bundle]).exit_code == 1


def test_sweep_and_pick_threshold():
    ood = np.array([[0.5, 0.5], [0.95, 0.05]])
    reports = sweep(PROBS, LABELS, ood, thresholds=(0.3, 0.55, 0.6, 0.96))
    assert [r.threshold for r in reports] == [0.3, 0.55, 0.6, 0.96]
    assert [r.rejection_rate for r in reports] == [0.0, 0.5, 0.5, 1.0]
    assert reports[1] == quality(PROBS, LABELS, 0.55, ood)
    # most correct-and-confident among those rejecting >= 0.5; ties go to the lower threshold
    assert pick_threshold(reports, 0.5).threshold == 0.55
    assert pick_threshold(reports, 1.0).threshold == 0.96
    assert pick_threshold(sweep(PROBS, LABELS, None), 0.5) is None


def test_qa_eval_sweep_suggests_a_threshold(make_bundle, tmp_path, write_csv):
    csv = write_csv("question,answer\nWhich city is the capital of Peru?,Lima\nWho wrote Hamlet?,William Shakespeare\n")
    ood = tmp_path / "ood.txt"
    ood.write_text("How tall is the Burj Khalifa?\nWhat is the capital of Mongolia?\n")
    bundle = str(make_bundle("gru", epochs=30))
    args = [bundle, "--csv", str(csv), "--ood", str(ood), "--sweep", "--target-rejection", "0.5"]
    report = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    rows = report["thresholds"]
    assert [r["threshold"] for r in rows] == list(SWEEP_THRESHOLDS)
    rejections = [r["rejection_rate"] for r in rows]
    assert rejections == sorted(rejections)  # a higher threshold never rejects fewer
    ok = [r for r in rows if r["rejection_rate"] >= 0.5]
    if ok:
        assert report["suggested_threshold"] in [r["threshold"] for r in ok]
    text = CliRunner().invoke(main, args).output
    assert text.startswith("threshold  coverage") and ("suggested: qa-export --threshold" in text) == bool(ok)
    bad = CliRunner().invoke(main, [bundle, "--csv", str(csv), "--target-rejection", "0.5"])
    assert bad.exit_code == 1 and "--target-rejection needs --sweep and --ood" in bad.output
