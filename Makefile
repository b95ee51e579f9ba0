# One entry point for people and CI. `make serve` and `make test` work on a
# fresh Debian machine with Python 3.11: they create .venv and install what
# they need (the browser for the widget tests included).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test test-fast lint bench bench-replicas eval validate docs browser nginx wrk clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# `faqbot serve` refuses to start without on_call_number; a local try-out has
# none (set FAQBOT_ON_CALL_NUMBER, or on_call_number in FAQBOT_CONFIG's file).
serve: $(STAMP)
	FAQBOT_ON_CALL_NUMBER="$${FAQBOT_ON_CALL_NUMBER:-none}" $(BIN)/faqbot serve --host $(HOST) --port $(PORT)

# Debian's chromium drives the widget tests (Playwright cannot download its
# own browser here); axe-core comes from npm, at the version package-lock.json
# pins (`npm ci` never rewrites the lockfile, `npm install` may).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	@[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --silent

# nginx fronts the replicas in tests/test_replicas.py and bench/replicas.py; PostgreSQL
# (127.0.0.1:5432) and Redis (127.0.0.1:6379) are expected to be running already.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nginx >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq nginx >/dev/null; fi; }

wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi; }

# The suite must leave the checkout as it found it (issue 19): tree_check
# compares git status before and after, so a developer's own uncommitted work
# does not count; with CI=true a change fails the run, elsewhere it warns.
test: $(STAMP) browser nginx
	@$(BIN)/python tools/tree_check.py snapshot
	$(BIN)/faqbot validate
	$(BIN)/python -m pytest -q
	@$(BIN)/python tools/tree_check.py compare

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser"

lint: $(STAMP)
	$(BIN)/ruff check bot tests tools bench
	$(BIN)/mypy bot

eval: $(STAMP)
	$(BIN)/faqbot eval

validate: $(STAMP)
	$(BIN)/faqbot validate

# Generated documentation (the corpus table in docs/corpus.md), rewritten from
# the corpus; run it after teaching or editing the corpus. Not compared in tests:
# a valid corpus edit must not fail the suite.
docs: $(STAMP)
	$(BIN)/python tools/corpus_table.py --write >/dev/null

bench: $(STAMP) nginx wrk
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run_all.py

bench-replicas: $(STAMP) nginx wrk
	$(BIN)/python bench/replicas.py

clean:
	rm -rf $(VENV) node_modules reports .pytest_cache
