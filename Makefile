# Two commands for a new user: `make demo` and `make test`. Both bootstrap .venv through `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.forge-installed
WORKSPACE ?= ./forge-workspace

.PHONY: install demo test lint browser clean

install: $(STAMP)

# Re-runs only when the pins or the package metadata change, so a second `make install` is instant.
# torch goes first and alone: with 2.13.0 already present, nothing later can pull a CUDA build.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	$(BIN)/forge run data_samples/corpus --workspace $(WORKSPACE)

# The structure is checked before the suite runs: ruff, then import-linter's contracts (pyproject.toml).
test: install lint browser
	$(BIN)/python -m pytest

# The lineage page's test drives Debian's chromium through its chromedriver (tests/test_lineage_page.py):
# installed from Debian's packages when missing (as root, or through sudo); nothing else fetches a browser.
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) || \
	  (sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache .ruff_cache *.egg-info
