# datalake: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: demo test lint bench bench-record build install clean

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on this project's CI
# machines), every process would otherwise compile every module it imports, which doubled
# `datalake --help` and the handler's cold import and slows every test that runs the CLI.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 src lambda_src bench > /dev/null
	touch $(STAMP)

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

## Run the local lake demo: sample CSVs flow raw -> staged -> curated, then a SQL query.
demo: install
	$(BIN)/datalake demo

## Run the whole test suite (unit, local lake, rendered templates + cfn-lint + cdk-nag + cfn-guard).
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

## Benchmarks, printed only (nothing tracked is written); bench-record records them (docs/performance.md).
bench: install
	$(BIN)/python -m bench.run

bench-record: install
	$(BIN)/python -m bench.run --record

## Render the two templates and the code artifacts into out/.
build: install
	$(BIN)/python build.py

clean:
	rm -rf $(VENV) node_modules out .datalake
