# The two commands: `make run` (the helpdesk locally) and `make test` (lint + every test tier).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit integration infra e2e bench-tests bench openapi replay redrive clean

$(STAMP): requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	exec env PYTHONPATH=shared:. $(BIN)/python -m infrastructure.local.run $(ARGS)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

# Lint: ruff (rules, complexity ceiling, formatting), the layer contracts (import-linter; pyproject's
# [tool.importlinter]) and the types (mypy with the pydantic plugin).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=shared:. $(BIN)/lint-imports --no-cache
	$(BIN)/mypy shared/helpdesk functions

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

infra: $(STAMP)
	$(BIN)/python -m pytest -q tests/infrastructure

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

bench-tests: $(STAMP)
	$(BIN)/python -m pytest -q tests/bench

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $(BENCH_STAMP)

# Foundation figures (imports, CPU, AWS requests and cost per ticket), then the peak-season replay
# (bench/results/peak.md and peak.png: product vs FIFO, cost, throughput, queue page at 1k vs 100k),
# then one poll tick over 130 Mirakl marketplaces, timed against the poll rate.
bench: $(BENCH_STAMP)
	PYTHONPATH=shared:. $(BIN)/python -m bench.run
	PYTHONPATH=shared:. $(BIN)/python -m bench.peak
	PYTHONPATH=shared:. $(BIN)/python -m bench.poll_tick

# The agent API's OpenAPI document (docs/openapi.json), regenerated from the routes.
openapi: $(STAMP)
	$(BIN)/python -m infrastructure.openapi

# Operations (README "Operations"): make replay ARGS="--stack S --tenant T --store X --since 2026-11-20"
replay redrive: $(STAMP)
	PYTHONPATH=shared:. $(BIN)/python -m infrastructure.ops $@ $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
