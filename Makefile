# changewatch: every target creates and uses its own virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: all install lint format typecheck test bench demo clean

all: lint typecheck test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install changewatch with its dev tools

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

demo: $(STAMP)  ## ingest the bundled real CloudTrail recordings
	mkdir -p $(OUT)
	$(BIN)/changewatch ingest tests/data/stratus tests/data/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json \
		tests/data/permiso/sessions/*/InputEvents.json --out $(OUT)/events.parquet
	$(BIN)/python -c "import pandas as pd; e = pd.read_parquet('$(OUT)/events.parquet'); \
		c = e[e.is_compute_change]; print(c[['event_time','identity_key','event_name','resource_type','action','client_family']].tail(15).to_string(index=False))"

clean:
	rm -rf $(VENV) $(OUT) .mypy_cache .ruff_cache .pytest_cache
