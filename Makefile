PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	@# roi's own bytecode, compiled once: an editable install leaves it to the first import, which
	@# cannot keep it where PYTHONDONTWRITEBYTECODE is set (then every command compiled roi again)
	$(BIN)/python -m compileall -q roi
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/roi demo --dir demo
	@echo "roi is $(BIN)/roi (not on your PATH): call it so, or 'source $(BIN)/activate' first"

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@# the API benchmark loads the server with wrk (Debian's package); as root it is installed here
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		(apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)) >/dev/null 2>&1 || true
	@command -v wrk >/dev/null || echo "wrk not found: the API benchmark falls back to a Python client sharing the CPU"
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check roi tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) demo .pytest_cache
