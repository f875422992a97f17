"""Every error a user can meet is an RnnqaError (a ValueError or TypeError too where callers rely on it)."""

import pytest

from rnnqa.errors import (ConfigError, Overloaded, QuestionError, QuestionTypeError, RequestError, RnnqaError)
from rnnqa.runtime import QAModel


@pytest.fixture(scope="module")
def model(make_bundle):
    return QAModel.load(make_bundle("gru"))


@pytest.mark.parametrize("call, error, base", [
    (lambda m: m.answer(""), QuestionError, ValueError),
    (lambda m: m.answer("?? !!"), QuestionError, ValueError),
    (lambda m: m.answer(7), QuestionTypeError, TypeError),
    (lambda m: m.answer_batch("one str"), QuestionTypeError, TypeError),
    (lambda m: m.top_k("capital of peru", k=0), ConfigError, ValueError),
    (lambda m: QAModel.load(m.bundle.path, threshold=2), ConfigError, ValueError),
])
def test_runtime_errors_are_typed(model, call, error, base):
    with pytest.raises(error) as info:
        call(model)
    assert isinstance(info.value, RnnqaError) and isinstance(info.value, base)


def test_serve_errors_are_typed():
    pytest.importorskip("starlette")
    from rnnqa.serve.batcher import BatchConfig

    with pytest.raises(ConfigError):
        BatchConfig(max_batch=0)
    assert issubclass(Overloaded, RnnqaError) and RequestError(413, "too big").status == 413
    assert isinstance(RequestError(400, "bad"), RnnqaError)


def test_qa_model_load_with_a_bad_graph_name_is_a_config_error(make_bundle):
    with pytest.raises(ConfigError, match="graph must be one of"):
        QAModel.load(make_bundle("gru"), graph="gpu")
