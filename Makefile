# Two commands do all the set-up on a fresh machine:
#   make run    - the main job (creates/reuses .venv, installs, runs the quick benchmark)
#   make test   - lint + the whole test suite + the docs build + dist-check
#   make test-fast - lint + the tests not marked slow (the quick loop)
#   make test-lowest - the fast tests against the lowest declared versions
#   make dist-check - the built wheel and sdist, installed in a fresh virtualenv
#                 and used from outside the checkout (scripts/check_dist.sh)
#   make docs   - the documentation site (docs/_build/html), warnings as errors
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned in the dev environment only: torch==2.13.0 is a CPU build on this
# machine's disk; the library itself asks for a range (see pyproject.toml).
TORCH_PIN ?= torch==2.13.0

# Each test process uses one torch thread (tests/conftest.py), so the suite runs
# one pytest-xdist worker per core; the slow tests, long and few, are balanced by
# work stealing. PYTEST_WORKERS= (empty) runs it in one process.
PYTEST_WORKERS ?= -n auto --dist worksteal
export PYTEST_WORKERS

.PHONY: venv run test test-fast test-lowest lint format clean docs dist-check

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	# setuptools prints a banner on every editable install: not news to a developer
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Data for `make run`: $FASHIONCLF_DATA if set; else the sibling folder
# ../shared/data/fashion-mnist if this checkout has one; else the library's own
# default, ~/fashionclf_data, where the official files (about 30 MB) are
# downloaded once and MD5-verified.
SHARED_DATA := ../shared/data/fashion-mnist
# Parsed-array and matplotlib caches of `make run` stay inside the checkout.
export FASHIONCLF_CACHE ?= $(CURDIR)/.cache/fashionclf
export MPLCONFIGDIR ?= $(CURDIR)/.cache/matplotlib

run: $(STAMP)
	@if [ -n "$$FASHIONCLF_DATA" ]; then \
		echo "data: $$FASHIONCLF_DATA (from FASHIONCLF_DATA)"; \
	elif [ -d "$(SHARED_DATA)" ]; then \
		export FASHIONCLF_DATA="$(SHARED_DATA)"; \
		echo "data: $(SHARED_DATA) (the sibling shared copy)"; \
	else \
		echo "data: ~/fashionclf_data (the official files, about 30 MB, downloaded once)"; \
	fi; \
	$(BIN)/fashionclf benchmark --suite quick --out-dir results/quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy fashionclf

test: lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS)
	$(MAKE) docs GALLERY=0
	$(MAKE) dist-check

test-fast: lint
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_WORKERS)

# The lowest versions pyproject.toml declares (each `>=` read as `==`; torch is the
# pinned build, the only one on this machine's disk), in a virtualenv of their own.
LOWEST := .venv-lowest
test-lowest:
	scripts/check_lowest.sh $(PYTHON) $(LOWEST) "$(TORCH_PIN)"

dist-check: $(STAMP)
	scripts/check_dist.sh $(BIN)/python "$(TORCH_PIN)"

# The gallery runs every example as written (each on the bundled sample: 6-38 s
# on an AMX Xeon, up to about 2 minutes on an AVX2-only CPU), so its pages show
# what the code gives. `make test` builds the
# site with GALLERY=0 (the example pages without their output): the tests
# have just run every example as a user runs it (tests/test_examples.py).
GALLERY ?= 1
docs: $(STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	MPLCONFIGDIR=$(CURDIR)/.cache/matplotlib $(BIN)/sphinx-build -W --keep-going -q -b html -D plot_gallery=$(GALLERY) docs docs/_build/html

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(LOWEST) results dist build .pytest_cache .ruff_cache docs/_build docs/generated docs/auto_examples
