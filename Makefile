# Small task runner; each target is one line you could type yourself (the README shows the same commands).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint format up ci

install:            ## create the venv and install Engram with test/lint extras
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -e '.[dev]' && .ci/install-chromium

test:               ## the whole suite (real embedded Postgres + Temporal dev server)
	$(PY) -m pytest

lint:               ## ruff lint + format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .

up:                 ## start the local stack in the foreground
	$(VENV)/bin/engram up

ci:                 ## what CI runs on a clean checkout
	./.ci/run

.PHONY: bench
bench:              ## benchmarks (bench/README.md); figures printed and written to bench/results/
	$(PY) -m bench.run
