# Two commands do everything on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint audit format smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

## run: set up the embedded default (SQLite + local broker) and start web server, worker and beat
run: $(VENV)/.installed
	./scripts/run_local.sh

# The official Node SDKs the tracking API is tested against; skipped (with a message) without npm.
tests/node/node_modules/.package-lock.json: tests/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/node --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node SDK tests will be skipped (apt-get install nodejs npm)"; fi

# The database of `make test` when DATABASE_URL is unset: a PostgreSQL server answering here (the
# tests make their own `test_cdp_test` database on it), so that the PostgreSQL-only tests run too;
# without one, SQLite.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/cdp_test
POSTGRES_ANSWERS := import sys, psycopg; psycopg.connect(sys.argv[1], dbname="postgres", connect_timeout=2).close()

## test: install the test dependencies and run the whole suite (on DATABASE_URL if set, else on
## the local PostgreSQL if it answers, else on SQLite); PYTEST_ARGS picks tests or options
test: $(VENV)/.installed-dev tests/node/node_modules/.package-lock.json
	@if [ -z "$$DATABASE_URL" ] && $(BIN)/python -c '$(POSTGRES_ANSWERS)' '$(TEST_POSTGRES_URL)' 2>/dev/null; then \
		echo "Testing on PostgreSQL at $(TEST_POSTGRES_URL)"; \
		DATABASE_URL='$(TEST_POSTGRES_URL)' $(BIN)/pytest $(PYTEST_ARGS); \
	else \
		$(BIN)/pytest $(PYTEST_ARGS); \
	fi

## lint: ruff lint and format check
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## audit: known vulnerabilities in the installed Python packages (pip-audit) and the Node SDK test
## packages (npm audit); exit 1 if any, 3 (said loudly) if an audit service does not answer
audit: $(VENV)/.installed-dev
	$(BIN)/python scripts/audit_dependencies.py

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var .pytest_cache
