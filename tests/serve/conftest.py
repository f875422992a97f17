import pytest


@pytest.fixture(scope="module")
def bundle(make_bundle):
    """The bundle the in-process app tests serve (a GRU that knows the seed questions)."""
    return make_bundle("gru", epochs=30)
