"""The substitution gate: its tables from training questions, and which questions it catches."""

import numpy as np
import torch

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.train.gate import NO_WORD, gate_tables, substituted
from rnnqa.train.trainer import TrainConfig, train

# ids: 2 what, 3 is, 4 capital, 5 currency, 6 russia, 7 japan, 8 france, 9 city, 10 painted
WHAT, IS, CAPITAL, CURRENCY, RUSSIA, JAPAN, FRANCE, CITY, PAINTED = range(2, 11)
QUESTIONS = [[WHAT, IS, CAPITAL, RUSSIA], [WHAT, IS, CURRENCY, JAPAN], [WHAT, IS, CAPITAL, FRANCE],
             [WHAT, IS, CAPITAL, JAPAN], [WHAT, CITY, PAINTED]]
ANSWERS = [0, 1, 2, 3, 4]  # Moscow, Yen, Paris, Tokyo, ...


def padded(rows):
    width = max(len(r) for r in rows)
    return (torch.tensor([r + [0] * (width - len(r)) for r in rows]), torch.tensor([len(r) for r in rows]))


def tables():
    ids, lengths = padded(QUESTIONS)
    return gate_tables(ids, lengths, torch.tensor(ANSWERS), 5, 11, share=0.7)


def test_tables_hold_each_answers_questions_as_content_words():
    content, rows, counts = tables()
    # "what" is in 5 of 5 questions and "is" in 4: not content at share 0.7; capital (3 of 5) is
    assert content[[CAPITAL, CURRENCY, RUSSIA, JAPAN, CITY]].all() and not content[[WHAT, IS, 0, 1]].any()
    assert sorted(w for w in rows[0, 0].tolist() if w != NO_WORD) == [CAPITAL, RUSSIA]
    assert rows.shape == (5, 1, 2) and counts.tolist() == [[2.0], [2.0], [2.0], [2.0], [2.0]]


def test_one_content_word_swapped_for_a_known_one_is_caught_and_nothing_else():
    content, rows, counts = tables()
    asked = [
        ([WHAT, IS, CURRENCY, RUSSIA], 0, True),  # capital → currency, answered Moscow: never taught
        ([WHAT, IS, CAPITAL, RUSSIA], 0, False),  # as taught
        ([WHAT, CITY, IS, CAPITAL, RUSSIA], 0, False),  # a known word added, none missing: a rewording
        ([RUSSIA, CAPITAL], 0, False),  # words dropped and moved
        ([WHAT, IS, 1, RUSSIA], 0, False),  # capital → an unknown word: the model's own doubt decides
        ([WHAT, IS, CURRENCY, FRANCE], 0, False),  # two words swapped: too far from Moscow's question to say
        ([WHAT, IS, CAPITAL, JAPAN], 3, False),  # taught for Tokyo
        ([WHAT, IS, CAPITAL, JAPAN], 1, True),  # ... but a swap of Yen's "currency japan"
    ]
    ids, lengths = padded([q for q, _, _ in asked])
    got = substituted(ids, lengths, torch.tensor([a for _, a, _ in asked]), content, rows, counts)
    assert got.tolist() == [flag for _, _, flag in asked]


def test_a_trained_model_halves_a_swapped_question_and_keeps_its_training_questions():
    pairs = load_qa_csv(default_dataset_path())
    result = train(pairs, None, TrainConfig(device="cpu", epochs=40))
    model, vocab = result.model, result.vocab
    rows = [vocab.encode(q, 32) for q in pairs.questions]
    ids, lengths = padded(rows)
    with torch.no_grad():
        index = model(ids, lengths).argmax(dim=1)
    scale = model.answer_scale(ids, lengths, index)
    right = index == torch.tensor([vocab.answers.index(a) for a in pairs.answers])
    assert (scale[right] == 1.0).all()  # a question answered as taught is never gated
    # swap one content word of a question for a content word of another question of another answer
    content = model.gate_content
    i = next(i for i, r in enumerate(rows) if right[i] and sum(bool(content[t]) for t in r) >= 2)
    donor = next(t for r in rows for t in r if content[t] and t not in rows[i])
    swapped = list(rows[i])
    swapped[next(p for p, t in enumerate(swapped) if content[t])] = donor
    ids, lengths = padded([swapped])
    flag = substituted(ids, lengths, index[i : i + 1], content, model.gate_rows, model.gate_counts)
    assert flag.tolist() == [True]
    assert np.isclose(float(model.answer_scale(ids, lengths, index[i : i + 1])), 0.5)


def test_without_the_gate_the_model_has_no_tables_and_scales_nothing():
    pairs = load_qa_csv(default_dataset_path())
    result = train(pairs, None, TrainConfig(device="cpu", epochs=2, gate=False))
    assert result.model_config.gate_questions == 0 and not hasattr(result.model, "gate_rows")
    ids, lengths = padded([[2, 3, 4]])
    assert result.model.answer_scale(ids, lengths, torch.tensor([0])).tolist() == [1.0]


def test_tables_too_large_leave_the_gate_out_and_the_run_says_so(monkeypatch):
    import rnnqa.train.gate as gate

    monkeypatch.setattr(gate, "MAX_ENTRIES", 9)  # 5 answers × 1 question × 2 words = 10
    assert gate_tables(*padded(QUESTIONS), torch.tensor(ANSWERS), 5, 11, share=0.7) is None
    result = train(load_qa_csv(default_dataset_path()), None, TrainConfig(device="cpu", epochs=1))
    assert result.model_config.gate_questions == 0 and any("no substitution gate" in n for n in result.notes)
