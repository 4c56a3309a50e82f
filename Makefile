# changewatch: every target creates and uses its own virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= demo
API_PORT ?= 8000
UI_PORT ?= 5000

.PHONY: all install lint format typecheck test bench demo clean

all: lint typecheck test

# Two installs in one .venv: the lean one the demo needs (changewatch alone, no dev tools,
# no Spark), and the developer's one (dev tools and Spark, which the tests need) on top of it.
RUNTIME := $(VENV)/.installed-runtime

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install changewatch with its dev tools and Spark

lint: $(STAMP)  ## ruff lint and format check, and the layer contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)  ## mypy --strict on the packages
	$(BIN)/mypy

test: $(STAMP)  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -n auto --dist loadgroup -q

# -P: the folder of a bench script is not put on sys.path (bench/features.py must not
# shadow the features package).
bench: $(STAMP)  ## benchmarks: ratios against named baselines
	$(BIN)/python -P bench/ingest.py
	$(BIN)/python -P bench/score.py
	$(BIN)/python -P bench/rules.py

demo: $(RUNTIME)  ## simulate, train, register, promote, score, then serve the API and MLflow UI
	$(BIN)/changewatch demo --out $(OUT) --api-port $(API_PORT) --ui-port $(UI_PORT)

clean:
	rm -rf $(VENV) $(OUT) .mypy_cache .ruff_cache .pytest_cache
