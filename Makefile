# The two set-up commands of the README. Both create .venv and install the project from its own files.
#   make selftest   clone + edit on the tiny model through the real daemon and worker
#   make test       the whole test suite (CPU only; GPU tests are opt-in: pytest -m gpu)
#   make check      ruff, mypy and the import-linter contracts (developers; .ci/run runs it first)
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= engine,cpu,test

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

selftest: $(VENV)/.installed
	$(VENV)/bin/stepaudio selftest

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

.PHONY: install selftest test

# Files generated from the CLI and the proto; tests fail when they are stale.
generated: $(VENV)/.installed
	$(PY) protos/generate.py
	$(PY) -m stepaudio_cli.fast.gen_help
	$(PY) -m stepaudio_cli.gen_completions
	$(PY) -m stepaudio_cli.gen_docs

.PHONY: generated

# Lint, types and import boundaries (pyproject.toml configures each); .ci/run runs this before the tests.
check: $(VENV)/.installed
	$(VENV)/bin/ruff check daemon stepaudio_cli protos stepaudio_serve stepaudio_web stepaudio_ray tools tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

.PHONY: check

# Screenshots of the web UI's tabs for the README (docs/screenshots/*.png); needs Debian's chromium.
screenshots: $(VENV)/.installed
	$(PY) tools/web_screenshots.py

.PHONY: screenshots
