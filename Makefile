# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-unit soak lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start a local SeaweedFS with demo data and serve batchops on http://127.0.0.1:8080
run: $(STAMP)
	$(BIN)/batchops demo --data-dir .data --port 8080

## test: the whole test suite (starts its own SeaweedFS and servers on free ports)
test: $(STAMP)
	$(BIN)/pytest

## test-unit: the tests that need no service (tests/unit without SeaweedFS or PostgreSQL), the inner loop: under a minute
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -m 'not soak and not postgres'

## soak: the long adversarial runs (hostile keys, fuzzed requests, injected store faults, abusive clients)
soak: $(STAMP)
	BATCHOPS_SOAK=1 $(BIN)/pytest -m soak -p no:cacheprovider

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: P1–P9 (P8, P9: also on the local PostgreSQL) side by side with s5cmd, a boto3 thread pool and wc -l on one local SeaweedFS; prints a table
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .data test-artifacts
