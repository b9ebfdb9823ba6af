# Entry points (see README): `make demo` runs the main job on a light install (the package and JupyterLab), `make
# test` adds the test tools and runs the whole suite, `make docs` builds the documentation site, `make notebooks`
# re-executes the notebooks and stores their outputs. All create or reuse .venv/ at the repository root;
# re-running is cheap and changes nothing.

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The torch build to install when the venv has none (these lie on disk on the project's machines).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
DEMO_STAMP := $(VENV)/.qvl-demo-installed
STAMP := $(VENV)/.qvl-installed
# The lowest transformers release the suite is run against (pyproject.toml's floor), as an overlay on the venv.
OLDEST_TRANSFORMERS := 5.0.0
# transformers 5.0.0 imports `kernels` when it is installed (newer transformers require it), and kernels 0.19
# refuses 5.0.0's kernel mapping at import ("Either a revision or a version must be specified"): the overlay
# carries a kernels release of 5.0.0's time.
OLDEST_KERNELS := 0.12.3
OLDEST := $(VENV)/oldest-transformers
OLDEST_STAMP := $(OLDEST)/.qvl-installed

.PHONY: setup demo test docs notebooks mutants format bench clean frontend browser figure-baselines study-demo

CHROMIUM ?= /usr/bin/chromium

setup: $(STAMP)

# The light install: torch, the package and a notebook host (the `notebook` extra), never the test tools.
$(DEMO_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[notebook]"
	@touch $(DEMO_STAMP)

# Everything the suite uses (the `test` extra: test tools, the docs build, video files, other notebook hosts).
$(STAMP): $(DEMO_STAMP) pyproject.toml
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

$(OLDEST_STAMP): $(STAMP) Makefile
	@rm -rf $(OLDEST)
	@$(PY) -m pip install --quiet --disable-pip-version-check --target $(OLDEST) "transformers==$(OLDEST_TRANSFORMERS)" "kernels==$(OLDEST_KERNELS)"
	@touch $(OLDEST_STAMP)

# Node packages for bundling the front end (esbuild); the bundle itself is committed.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

frontend: node_modules/.package-lock.json
	npm run --silent build

# The browser tests drive Debian's chromium; as root on Debian, install it when missing.
browser:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@test -x $(CHROMIUM) || echo "warning: no chromium at $(CHROMIUM); browser tests will be skipped (failed under CI)"

demo: $(DEMO_STAMP)
	$(VENV)/bin/qvl-widget demo

# The documentation site, into site/ (open site/index.html; it works offline, from file://). Strict: a broken link
# or API reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Re-execute the notebooks on the offline demo model and store them with their outputs.
notebooks: $(STAMP)
	$(PY) tools/make_notebooks.py

test: $(STAMP) $(OLDEST_STAMP) node_modules/.package-lock.json browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	npm run --silent typecheck
	node --test js/tests/
	$(MAKE) --no-print-directory docs
	$(PY) -m pytest
	@echo "--- the engine again, with the oldest supported transformers ($(OLDEST_TRANSFORMERS)) ---"
	PYTHONPATH=$(OLDEST) $(PY) -m pytest -q -m "not browser"

# The full mutation pass: each mutant of tools/mutants*.py against its tests (long: run it after changing a view or
# the engine; `make test` checks only that every mutant still applies).
mutants: $(STAMP) node_modules/.package-lock.json
	$(PY) tools/mutation.py

# The figures' baseline pictures (tests/figure_baselines/), drawn anew by the current code: after a change to the
# figures that is meant, run it, look at the pictures and commit them (tests/test_figure_images.py compares with them).
figure-baselines: $(STAMP)
	$(PY) -m pytest -q tests/test_figure_images.py --mpl-generate-path=tests/figure_baselines

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/capture.py

# A study of the demo model over 500 held-out scenes (offline): each named object's box, the head rankings by
# pointing and in_box, and their figures, in study-demo/ (the same command again resumes; BENCHMARKS.md has a run).
STUDY_DEMO := study-demo
study-demo: $(DEMO_STAMP)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[study]"
	$(VENV)/bin/qvl-widget demo --write-scenes 500 --out $(STUDY_DEMO)/scenes
	$(VENV)/bin/qvl-widget study $(STUDY_DEMO)/scenes/scenes.jsonl --model qvl_widget/demo/model --out $(STUDY_DEMO)/study --query all --prompt-only --device cpu
	$(VENV)/bin/qvl-widget study --report $(STUDY_DEMO)/study --metric pointing
	$(VENV)/bin/qvl-widget study --report $(STUDY_DEMO)/study --metric in_box

clean:
	rm -rf $(VENV) .pytest_cache site .cache
