import pytest
import torch

from rnnqa.data.table import load_qa_csv
from rnnqa.data.text import UNK_ID
from rnnqa.errors import ConfigError, DataError
from rnnqa.train.model import CELLS
from rnnqa.train.run import load_run, save_run
from rnnqa.train.trainer import TrainConfig, is_flat, train

SMALL = dict(embed_dim=16, hidden_dim=24)


@pytest.fixture(scope="module")
def seed_pairs(seed_csv):
    return load_qa_csv(seed_csv)


@pytest.mark.parametrize("cell", list(CELLS))
def test_reaches_full_train_accuracy_on_the_seed_csv(seed_pairs, cell):
    result = train(seed_pairs, {"cell": cell}, TrainConfig(seed=0, device="cpu"))  # the qa-train defaults
    assert result.history[-1].train_accuracy == 1.0
    with torch.no_grad():
        from rnnqa.data.tensors import encode_pairs

        data = encode_pairs(seed_pairs, result.vocab, result.model_config.max_len)
        predicted = result.model(data.input_ids, data.lengths).argmax(1)
    assert torch.equal(predicted, data.labels)  # eval-mode check, not just the running metric


@pytest.mark.slow
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("seed", range(5))
def test_every_seed_and_cell_reaches_full_accuracy(seed_pairs, cell, seed):
    result = train(seed_pairs, {"cell": cell}, TrainConfig(seed=seed, device="cpu"))
    assert result.history[-1].train_accuracy == 1.0


def test_early_stop_ends_once_accuracy_is_full_and_loss_flat(seed_pairs):
    cfg = TrainConfig(seed=0, device="cpu", early_stop=True, epochs=300).without_augmentation()
    result = train(seed_pairs, {"cell": "gru"}, cfg)
    assert result.stopped_early and len(result.history) < 300
    assert result.history[-1].train_accuracy == 1.0
    assert is_flat([m.train_loss for m in result.history], cfg.patience, cfg.flat_tol)
    assert not any(m.train_accuracy == 1.0 and is_flat([x.train_loss for x in result.history[:i + 1]], 3, 0.05)
                   for i, m in enumerate(result.history[:-1]))


def test_same_seed_gives_identical_weights_on_cpu(seed_pairs):
    cfg = TrainConfig(seed=3, device="cpu", epochs=4, early_stop=False)
    a, b = (train(seed_pairs, {"cell": "lstm", **SMALL}, cfg).model.state_dict() for _ in range(2))
    c = train(seed_pairs, {"cell": "lstm", **SMALL}, TrainConfig(seed=4, device="cpu", epochs=4)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_validation_split_and_metrics(seed_pairs):
    result = train(seed_pairs, SMALL, TrainConfig(device="cpu", epochs=3, val_split=0.05, early_stop=False))
    assert len(result.history) == 3
    assert all(m.val_loss is not None and 0 <= m.val_accuracy <= 1 for m in result.history)


def test_a_split_holds_out_only_questions_whose_answer_keeps_a_training_question(seed_pairs):
    from collections import Counter

    from rnnqa.train.trainer import split_pairs

    shared = {a for a, n in Counter(seed_pairs.answers).items() if n > 1}
    for seed in range(5):
        kept, held = split_pairs(seed_pairs, 0.05, seed)
        assert len(held) == 4 and len(kept) == 86  # round(0.05 * 90)
        assert set(held.answers) <= shared and set(held.answers) <= set(kept.answers)
        assert sorted(kept.questions + held.questions) == sorted(seed_pairs.questions)  # none lost, none twice


def test_a_split_that_would_hold_out_untaught_answers_is_refused_before_training(seed_pairs):
    # 85 answers for 90 questions: only 5 questions can be held out with their answer still taught
    with pytest.raises(ConfigError, match=r"val_split 0\.2 would hold out 18 of 90 questions, but only 5 can be.*"
                                          r"81 of 85 answers have one question.*at most --val-split 0\.05"):
        train(seed_pairs, SMALL, TrainConfig(device="cpu", epochs=1, val_split=0.2))
    distinct = seed_pairs.select([i for i, a in enumerate(seed_pairs.answers)
                                  if seed_pairs.answers.index(a) == i])  # one question per answer
    with pytest.raises(ConfigError, match="no --val-split can"):
        train(distinct, SMALL, TrainConfig(device="cpu", epochs=1, val_split=0.01))


def test_validation_csv_with_an_unseen_answer_is_a_data_error(seed_pairs, write_csv):
    val = load_qa_csv(write_csv("question,answer\nwho is new?,Nobody-Knows\n"))
    with pytest.raises(DataError, match="does not occur in the training data"):
        train(seed_pairs, SMALL, TrainConfig(device="cpu", epochs=1), val_pairs=val)


def test_is_flat():
    assert not is_flat([1.0, 0.5, 0.25, 0.12], patience=3, tol=0.05)
    assert is_flat([0.1, 0.099, 0.098, 0.097], patience=3, tol=0.05)
    assert not is_flat([0.1, 0.1], patience=3, tol=0.05)


@pytest.mark.parametrize(
    "fields", [{"device": "tpu"}, {"epochs": 0}, {"lr": -1.0}, {"val_split": 1.0}, {"tokenizer": "x"},
               {"token_dropout": 1.0}, {"unk_rate": -0.1}, {"outliers": -1.0},
               {"protect_subject": False, "masked_outliers": 0.5},
               {"clean_rows": -1.0}, {"masked_words": -0.1}, {"content_share": 0.0}, {"content_share": 1.5},
               {"threshold": 1.2}, {"threshold": -0.1}]
)
def test_invalid_train_config(fields):
    with pytest.raises(ConfigError):
        TrainConfig(**fields)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_a_gpu_is_a_clear_error(seed_pairs):
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(seed_pairs, SMALL, TrainConfig(device="cuda", epochs=1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_cuda_and_matches_cpu_predictions(seed_pairs):
    result = train(seed_pairs, {"cell": "gru"}, TrainConfig(device="cuda"))
    assert result.device == "cuda" and result.history[-1].train_accuracy == 1.0
    assert next(result.model.parameters()).device.type == "cpu"  # handed back ready to export


def test_run_round_trip_loads_weights_only(seed_pairs, tmp_path, monkeypatch):
    result = train(seed_pairs, SMALL, TrainConfig(device="cpu", epochs=2, early_stop=False))
    save_run(result, tmp_path / "run")
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    loaded = load_run(tmp_path / "run")
    assert calls and all(k.get("weights_only") is True for k in calls)
    ids, lengths = torch.tensor([[2, 3, 4]]), torch.tensor([3])
    torch.testing.assert_close(loaded.model(ids, lengths), result.model(ids, lengths))
    assert loaded.vocab == result.vocab


@pytest.fixture
def training_rows(monkeypatch):
    """The rows of every training forward pass, each as a tuple of its token ids, one list per step."""
    from rnnqa.train.model import QAClassifier

    seen, real = [], QAClassifier.forward

    def recording(self, ids, lengths):
        if self.training:
            seen.append([tuple(ids[i, : lengths[i]].tolist()) for i in range(len(lengths))])
        return real(self, ids, lengths)

    monkeypatch.setattr(QAClassifier, "forward", recording)
    return seen


@pytest.mark.parametrize("clean_rows", [0.0, 1.0])
def test_clean_rows_add_each_batch_as_written(seed_pairs, training_rows, clean_rows):
    """With clean_rows, every step also sees its batch exactly as written, besides the noisy copy."""
    cfg = TrainConfig(device="cpu", epochs=1, batch_size=8, token_dropout=0.5, unk_rate=0.5, outliers=0.0,
                      masked_outliers=0.0, masked_words=0.0, clean_rows=clean_rows)
    result = train(seed_pairs, SMALL, cfg)
    questions = [tuple(result.vocab.encode(q, 32)) for q in seed_pairs.questions]
    assert len(training_rows) == -(-len(seed_pairs) // 8)  # one forward pass per step, all kinds of row stacked
    assert sum(len(rows) for rows in training_rows) == (2 if clean_rows else 1) * len(seed_pairs)
    if clean_rows:  # the second half of each step: each question once as written, per epoch
        assert sorted(row for rows in training_rows for row in rows[len(rows) // 2 :]) == sorted(questions)
    noisy = [row for rows in training_rows for row in (rows[: len(rows) // 2] if clean_rows else rows)]
    assert sum(row in questions for row in noisy) < len(noisy) // 2


def test_word_masked_rows_are_each_question_with_one_content_word_unknown(seed_pairs, training_rows):
    cfg = TrainConfig(device="cpu", epochs=1, batch_size=8, token_dropout=0.0, unk_rate=0.0, shuffle_window=0.0,
                      outliers=0.0, masked_outliers=0.0, clean_rows=0.0, masked_words=1.0)
    result = train(seed_pairs, SMALL, cfg)
    questions = [tuple(result.vocab.encode(q, 32)) for q in seed_pairs.questions]
    firsts = sorted(row for rows in training_rows for row in rows[: len(rows) // 2])
    masked = [row for rows in training_rows for row in rows[len(rows) // 2 :]]
    assert firsts == sorted(questions) and len(masked) == len(questions)
    for row in masked:  # each is a training question with exactly one word replaced by <UNK>
        twin = next(q for q in questions if len(q) == len(row) and sum(a != b for a, b in zip(q, row)) == 1)
        assert [b for a, b in zip(twin, row) if a != b] == [UNK_ID]


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_the_stacked_loss_is_the_weighted_sum_of_each_kind_of_row(label_smoothing):
    from rnnqa.train.trainer import _stacked_loss

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(14, 9, generator=g)
    labels = torch.randint(0, 9, (4,), generator=g)
    counted = torch.tensor([True, False, True, True])
    rows = [(torch.zeros(4, 3), None, 1.0, labels, None), (torch.zeros(4, 3), None, 0.5, labels, None),
            (torch.zeros(2, 3), None, 1.0, None, None), (torch.zeros(4, 3), None, 0.1, None, counted)]
    parts = logits.split([4, 4, 2, 4])
    ce = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    uniform = [-torch.log_softmax(p, dim=1).mean(dim=1) for p in parts[2:]]
    expected = (ce(parts[0], labels) + 0.5 * ce(parts[1], labels) + uniform[0].mean()
                + 0.1 * (uniform[1] * counted).sum() / counted.sum())
    torch.testing.assert_close(_stacked_loss(logits, rows, label_smoothing), expected)
