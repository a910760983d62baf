# One entry point for people and CI. The README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PostgreSQL server used by the second test run (a fresh database per test is created on it).
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# STRICT=1: a skipped PostgreSQL, Elasticsearch-API, browser or Redis (crawl frontier) test fails the run.
STRICT ?= 1
PYTEST_ARGS ?=

ifeq ($(STRICT),1)
SQLITE_REQUIRE := elasticsearch,browser,redis
PG_REQUIRE := postgres,redis
endif

.PHONY: install lock browser demo test lint typecheck test-sqlite test-postgres bench clean

# constraints.txt pins every dependency to the versions the tests last passed with (see `lock`).
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Re-resolve the dependencies from pyproject.toml alone in a scratch venv and pin the result in
# constraints.txt; then run `make test` before committing it.
LOCK_VENV ?= var/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q -e '.[dev]'
	{ grep '^#' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

# Debian's Chromium and a CJK font for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@scripts/install-browser

demo: install
	$(BIN)/xinlian demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test-sqlite: install browser
	XINLIAN_TEST_REQUIRE=$(SQLITE_REQUIRE) $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	XINLIAN_TEST_DATABASE_URL=$(PG_URL) XINLIAN_TEST_REQUIRE=$(PG_REQUIRE) $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test: lint typecheck test-sqlite test-postgres

# Every benchmark at the issues' sizes, each in its own process; the figures replace the generated section of
# bench/RESULTS.md. BENCH_ARGS="--quick" for a smoke test, "--only search http" for some of them.
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench --write $(BENCH_ARGS)

clean:
	rm -rf var .mypy_cache .ruff_cache
