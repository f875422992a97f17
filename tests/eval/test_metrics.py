import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from rnnqa.eval.cli import main
from rnnqa.eval.metrics import quality, reliability

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
