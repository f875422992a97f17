import json
import math
from pathlib import Path

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
    assert result.output.count("\n") == 1, result.output
    nothing = CliRunner().invoke(main, [bundle])
    assert (nothing.exit_code, nothing.output) == (1, "error: give --csv, --ood, --near-miss or several\n")
    missing = CliRunner().invoke(main, [str(Path(bundle) / "absent"), "--csv", str(write_csv("question,answer\n"))])
    assert missing.exit_code == 1 and "absent" in missing.output and missing.output.count("\n") == 1, missing.output


def test_sweep_and_pick_threshold():
    ood = np.array([[0.5, 0.5], [0.95, 0.05]])
    reports = sweep(PROBS, LABELS, ood, thresholds=(0.3, 0.55, 0.6, 0.96))
    assert [r.threshold for r in reports] == [0.3, 0.55, 0.6, 0.96]
    assert [r.rejection_rate for r in reports] == [0.0, 0.5, 0.5, 1.0]
    assert reports[1] == quality(PROBS, LABELS, 0.55, ood)
    # most correct-and-confident among those rejecting >= 0.5; ties go to the lower threshold
    assert pick_threshold(reports, 0.5).threshold == 0.55
    # only 0.96 rejects every OOD question, and there no labelled question is answered: nothing to choose from
    assert reports[-1].rejection == 1.0 and reports[-1].correct_and_confident == 0.0
    assert pick_threshold(reports, 1.0) is None
    assert pick_threshold(sweep(PROBS, LABELS, None), 0.5) is None
    # nor from labelled questions all answered wrong, at any threshold
    assert pick_threshold(sweep(PROBS, 1 - PROBS.argmax(axis=1), ood), 0.0) is None
    assert pick_threshold(sweep(PROBS, LABELS, ood), 0.0).threshold == 0.1  # ties: the lowest


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
    assert bad.exit_code == 1 and "--target-rejection needs --sweep and --ood or --near-miss" in bad.output


def test_near_misses_and_confidently_wrong_answers_are_counted_and_the_pick_needs_both_rejections():
    near = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.55, 0.45]])
    kinds = ["relation", "relation", "subject", "superlative"]
    q = quality(PROBS, LABELS, 0.58, ood_probs=np.array([[0.5, 0.5]]), near_probs=near, near_kinds=kinds)
    assert q.confidently_wrong == pytest.approx(0.25)  # row 1: 0.6 for the wrong answer
    assert q.near_miss_questions == 4 and q.near_miss_rejection == 0.5
    assert q.near_miss_by_kind == {"relation": 0.5, "subject": 0.0, "superlative": 1.0}
    assert q.rejection == 0.5 and "4 near misses: 0.500" in q.summary()
    assert json.loads(json.dumps(q.to_json()))["confidently_wrong"] == pytest.approx(0.25)
    reports = sweep(PROBS, LABELS, np.array([[0.5, 0.5]]), thresholds=(0.55, 0.85, 0.95), near_probs=near)
    assert [r.rejection for r in reports] == [0.25, 0.75, 1.0]  # OOD is rejected at each: near misses decide
    assert pick_threshold(reports, 0.7).threshold == 0.85


def test_read_near_misses_takes_a_kind_csv_or_a_plain_list(tmp_path):
    from rnnqa.errors import DataError
    from rnnqa.eval.questions import read_near_misses

    kinds = tmp_path / "near.csv"
    kinds.write_text('question,kind\n"What is the currency of Russia, then?",relation\n\nWho painted 1984?,relation\n')
    assert read_near_misses(kinds) == (["What is the currency of Russia, then?", "Who painted 1984?"],
                                       ["relation", "relation"])
    plain = tmp_path / "near.txt"
    plain.write_text("What is the currency of Russia?\n")
    assert read_near_misses(plain) == (["What is the currency of Russia?"], None)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,kind\nWho painted 1984?\n")
    with pytest.raises(DataError, match=r"bad.csv:2: expected question,kind"):
        read_near_misses(bad)


def test_qa_eval_reports_near_misses_by_kind(make_bundle, tmp_path):
    near = tmp_path / "near.csv"
    near.write_text("question,kind\nWhat is the population of Peru?,synonym\nWho painted Hamlet?,relation\n")
    result = CliRunner().invoke(main, [str(make_bundle("gru", epochs=30)), "--near-miss", str(near), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["near_miss_questions"] == 2 and set(report["near_miss_by_kind"]) == {"relation", "synonym"}
    assert report["confidently_wrong"] is None  # no in-domain questions given
