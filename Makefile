# Two commands do all the set-up on a fresh machine:
#   make run    - the main job (creates/reuses .venv, installs, runs the quick benchmark)
#   make test   - lint + the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned in the dev environment only: torch==2.13.0 is a CPU build on this
# machine's disk; the library itself asks for a range (see pyproject.toml).
TORCH_PIN ?= torch==2.13.0

.PHONY: venv run test lint format clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	FASHIONCLF_DATA=$${FASHIONCLF_DATA:-../shared/data/fashion-mnist} $(BIN)/fashionclf benchmark --preset quick --out results/quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
