# guanxi — the verbs. `make demo` runs the product; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/guanxi/web/static/vendor
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo serve worker migrate install vendor test test-fast lint format bench clean

## Set-up ---------------------------------------------------------------------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(VENDOR)/.installed: package.json package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/@antv/x6/dist/x6.min.js $(VENDOR)/
	touch $@

install: $(VENV)/.installed $(VENDOR)/.installed

## Run ------------------------------------------------------------------------------------------
demo: install
	$(BIN)/guanxi demo
	$(BIN)/guanxi serve

serve: install
	$(BIN)/guanxi serve

worker: install
	$(BIN)/guanxi worker

migrate: install
	$(BIN)/guanxi migrate

## Check ----------------------------------------------------------------------------------------
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m guanxi.i18n_catalog check

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The whole suite on SQLite and PostgreSQL (started, and installed with apt-get if absent), with
# Chromium for the browser tests. Runs as root in CI, with no standard input.
test: install
	$(MAKE) --no-print-directory lint
	source scripts/test-services.sh && $(BIN)/pytest -n $${PYTEST_WORKERS:-auto} $(PYTEST_ARGS)

# Without the browser: quick feedback while working.
test-fast: install
	source scripts/test-services.sh && $(BIN)/pytest -n auto -m "not browser" $(PYTEST_ARGS)

bench: install
	$(BIN)/guanxi bench api --scale small

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache test-artifacts
