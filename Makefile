# One entry point for people and CI. `make serve` and `make test` work on a
# fresh Debian machine with Python 3.11: they create .venv and install what
# they need (the browser for the widget tests included).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test test-fast lint bench eval validate browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/faqbot serve --host $(HOST) --port $(PORT)

# Debian's chromium drives the widget tests (Playwright cannot download its
# own browser here); axe-core comes from npm.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	@[ -f node_modules/axe-core/axe.min.js ] || npm install --no-audit --no-fund --silent

test: $(STAMP) browser
	$(BIN)/faqbot validate
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser"

lint: $(STAMP)
	$(BIN)/ruff check bot tests

eval: $(STAMP)
	$(BIN)/faqbot eval

validate: $(STAMP)
	$(BIN)/faqbot validate

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules reports .pytest_cache
