# Two commands on a fresh machine: `make run` and `make test`. Every target installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run ingest test lint typecheck eval bench transcripts clean

# Extras to install: `make install EXTRAS=dev,sentence-transformers` adds the optional
# sentence-transformers models (and torch); the default model needs neither.
EXTRAS ?= dev

install: $(STAMP)

# With the sentence-transformers extra, torch first, pinned: the CPU wheel on this machine (an
# unpinned torch pulls a multi-GB CUDA build).
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(findstring sentence-transformers,$(EXTRAS)),$(PY) -m pip install --quiet torch==2.13.0)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

ingest: install
	$(PY) -m ingest build

run: ingest
	$(PY) -m bot run

test: install
	$(BIN)/ruff check bot ingest tests
	$(BIN)/ruff format --check bot ingest tests
	$(BIN)/mypy
	$(PY) -m pytest -q
	$(PY) -m ingest build
	@# The evaluation gates: it exits non-zero below the targets of issue 5.
	$(PY) -m bot eval

eval: install
	$(PY) -m ingest build
	$(PY) -m bot eval

bench: install
	$(PY) -m ingest build
	$(PY) -m tests.bench

# ten sample conversations through the real bot, for review: var/transcripts.md
transcripts: install
	$(PY) -m pytest -q tests/test_transcripts.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
