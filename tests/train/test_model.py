import pytest
import torch

from rnnqa.errors import ConfigError
from rnnqa.train.model import CELLS, ModelConfig, QAClassifier


def tiny(cell: str, **kw) -> QAClassifier:
    torch.manual_seed(0)
    return QAClassifier(ModelConfig(vocab_size=20, num_answers=7, cell=cell, embed_dim=8, hidden_dim=12, **kw)).eval()


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
def test_padding_does_not_change_a_rows_logits(cell, layers):
    model = tiny(cell, layers=layers)
    rows = [[2, 5, 9], [3], [4, 4, 4, 4, 4, 7]]
    alone = [model(torch.tensor([r]), torch.tensor([len(r)])) for r in rows]
    for extra in (0, 1, 9):
        width = max(map(len, rows)) + extra
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        logits = model(ids, torch.tensor([len(r) for r in rows]))
        assert logits.shape == (3, 7)
        torch.testing.assert_close(logits, torch.cat(alone), rtol=0, atol=1e-6)


def test_pad_embedding_is_zero_and_padded_rows_differ_from_their_pad():
    model = tiny("gru")
    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    a = model(torch.tensor([[2, 3, 0]]), torch.tensor([2]))
    b = model(torch.tensor([[2, 3, 0]]), torch.tensor([3]))
    assert not torch.allclose(a, b)  # the length really selects the read-out position


@pytest.mark.parametrize(
    "fields, message",
    [({"cell": "transformer"}, "cell must be"), ({"hidden_dim": 0}, "hidden_dim"), ({"dropout": 1.0}, "dropout")],
)
def test_invalid_config_is_a_config_error(fields, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(vocab_size=5, num_answers=2, **fields)


def test_config_json_round_trip_and_unknown_fields():
    cfg = ModelConfig(vocab_size=5, num_answers=2, cell="lstm", layers=2, dropout=0.1)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_json({**cfg.to_json(), "heads": 4})
