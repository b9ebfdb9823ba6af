# Two entry points (see README): `make demo` runs the main job, `make test` the whole test suite.
# Both create or reuse .venv/ at the repository root; re-running is cheap and changes nothing.

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The torch build to install when the venv has none (these lie on disk on the project's machines).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.qvl-installed

.PHONY: setup demo test lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/qvl-widget demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/capture.py

clean:
	rm -rf $(VENV) .pytest_cache
