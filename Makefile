# cinemesh: `make up` runs the platform, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install up test lint typecheck contracts bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@if [ -f package.json ]; then npm install --no-audit --no-fund --silent; fi
	@touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/cinemesh up

# The scale configuration (PostgreSQL, the running NATS and Redis) is covered inside the one
# run: every API, database and event suite is parametrized [sqlite] and [postgres].

test: install lint contracts typecheck
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check --exclude bench/results src tests bench

contracts: install
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src/cinemesh/platform

bench: install
	$(BIN)/cinemesh bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
