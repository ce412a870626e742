# The two commands a new user needs: `make run` and `make test`.
# Everything installs into .venv; a stamp file keeps `make install` quick when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Nothing may reach a model hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint typecheck pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build; left to the resolver it picks a multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/logomesh init
	# The example plugins in plugins/ are this repository's own (make already runs its code).
	$(BIN)/logomesh trust
	$(BIN)/logomesh shell

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Line and branch coverage of the packages, the CLI and other Python subprocesses included
# ([tool.coverage.*] in pyproject.toml); fails under 80%. A plain `pytest` measures nothing.
pytest: install
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

test: lint typecheck pytest

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov
