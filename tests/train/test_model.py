import pytest
import torch

from rnnqa.errors import ConfigError
from rnnqa.train.model import CELLS, READOUTS, ModelConfig, QAClassifier


def tiny(cell: str, **kw) -> QAClassifier:
    torch.manual_seed(0)
    return QAClassifier(ModelConfig(vocab_size=20, num_answers=7, cell=cell, embed_dim=8, hidden_dim=12, **kw)).eval()


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("readout", READOUTS)
def test_padding_does_not_change_a_rows_logits(cell, layers, readout):
    model = tiny(cell, layers=layers, readout=readout)
    rows = [[2, 5, 9], [3], [4, 4, 4, 4, 4, 7]]
    alone = [model(torch.tensor([r]), torch.tensor([len(r)])) for r in rows]
    for extra in (0, 1, 9):
        width = max(map(len, rows)) + extra
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        logits = model(ids, torch.tensor([len(r) for r in rows]))
        assert logits.shape == (3, 7)
        torch.testing.assert_close(logits, torch.cat(alone), rtol=0, atol=1e-6)


@pytest.mark.parametrize("readout", READOUTS)
def test_pad_embedding_is_zero_and_padded_rows_differ_from_their_pad(readout):
    model = tiny("gru", readout=readout)
    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    a = model(torch.tensor([[2, 3, 0]]), torch.tensor([2]))
    b = model(torch.tensor([[2, 3, 0]]), torch.tensor([3]))
    assert not torch.allclose(a, b)  # the length really selects the states read


@pytest.mark.parametrize("cell", list(CELLS))
def test_readouts_read_the_max_or_the_last_of_the_rows_states(cell):
    rows = torch.tensor([[2, 5, 9, 4], [3, 8, 0, 0]])
    lengths = torch.tensor([4, 2])
    by_readout = {}
    for readout in READOUTS:
        model = tiny(cell, readout=readout)
        with torch.no_grad():
            states, _ = model.rnn(model.embedding(rows))
            logits = model(rows, lengths)
        by_readout[readout] = logits
        for i, n in enumerate(lengths.tolist()):
            read = states[i, :n].amax(0) if readout == "max" else states[i, n - 1]
            torch.testing.assert_close(logits[i], model.head(read), rtol=0, atol=1e-6)
    assert not torch.allclose(by_readout["max"], by_readout["last"])


def test_an_empty_row_stays_finite():
    model = tiny("gru", readout="max")
    assert torch.isfinite(model(torch.tensor([[0, 0]]), torch.tensor([0]))).all()


@pytest.mark.parametrize(
    "fields, message",
    [({"cell": "transformer"}, "cell must be"), ({"readout": "mean"}, "readout must be"),
     ({"hidden_dim": 0}, "hidden_dim"), ({"dropout": 1.0}, "dropout")],
)
def test_invalid_config_is_a_config_error(fields, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(vocab_size=5, num_answers=2, **fields)


def test_config_json_round_trip_and_unknown_fields():
    cfg = ModelConfig(vocab_size=5, num_answers=2, cell="lstm", layers=2, dropout=0.1)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_json({**cfg.to_json(), "heads": 4})


def test_a_config_saved_before_readout_existed_reads_the_last_state():
    saved = ModelConfig(vocab_size=5, num_answers=2).to_json()
    assert saved.pop("readout") == "max"  # the default now
    assert ModelConfig.from_json(saved).readout == "last"
