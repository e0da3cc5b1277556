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

# The API suites run twice: on the embedded defaults, then in the scale configuration
# (PostgreSQL, the running NATS and Redis).
SCALE_SUITES := tests/identity tests/profiles tests/catalog tests/search tests/playback tests/history

test: install lint contracts typecheck
	$(BIN)/python -m pytest
	CINEMESH_TEST_CONFIG=scale $(BIN)/python -m pytest $(wildcard $(SCALE_SUITES))

lint: install
	$(BIN)/ruff check src tests bench

contracts: install
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src/cinemesh/platform

bench: install
	$(BIN)/cinemesh bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
