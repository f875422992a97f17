# rnnqa — `make demo` (install, train, export, answer) and `make test`. Needs only Python 3.10+.
PYTHON ?= python3
VENV ?= .venv
# The CPU build on disk; a bare `torch` requirement could pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?= -m "not slow"
RUN_DIR ?= artifacts/run
BUNDLE_DIR ?= artifacts/bundle

BIN := $(VENV)/bin
STAMP := $(VENV)/.rnnqa-installed

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[train,dev]"
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/qa-train --out $(RUN_DIR)
	$(BIN)/qa-export $(RUN_DIR) --out $(BUNDLE_DIR) --force
	$(BIN)/qa-ask --bundle $(BUNDLE_DIR) "What is the capital of Peru?" "Who painted Guernica?" \
		"How many keys does a piano have?" "What is the airspeed velocity of an unladen swallow?"

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) artifacts/run artifacts/bundle .pytest_cache
