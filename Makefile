# One target per chore. Every target bootstraps what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR_STAMP := node_modules/.reframe-vendor/.built
EXAMPLE := examples/invoices

.PHONY: setup run test lint format bench snapshots clean

setup: $(STAMP) $(NODE_STAMP) $(VENDOR_STAMP)

# Reinstall whenever the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# tsc and esbuild, pinned in package-lock.json: the tests check and run emitted TypeScript.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

# React, ReactDOM and React Query as browser ES modules for `gen serve` (hookfs/vendor.py),
# in node_modules/.reframe-vendor/<lockfile hash>/: npm ci wipes it, so it follows npm ci.
$(VENDOR_STAMP): $(STAMP) $(NODE_STAMP) package-lock.json hookfs/vendor.py
	$(BIN)/python -m hookfs.vendor
	touch $(VENDOR_STAMP)

run: setup
	$(BIN)/gen --project $(EXAMPLE) generate
	$(BIN)/gen --project $(EXAMPLE) inspect Invoice.status
	$(BIN)/gen --project $(EXAMPLE) serve

test: setup lint
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m bench.compile_speed
	$(BIN)/python -m bench.policy_speed
	$(BIN)/python -m bench.api_speed
	$(BIN)/python -m bench.ui_speed

# Issue 3: `gen migrate make` beside Django's makemigrations and Alembic's autogenerate
# (Django comes from the bench extra; a PostgreSQL server is needed, see the module).
.PHONY: bench-migrate
bench-migrate: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.migrate_compare

# Re-pin the example snapshots after an intended change of generated output.
snapshots: setup
	$(BIN)/pytest -q --snapshot-update

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache $(EXAMPLE)/.gen $(EXAMPLE)/generated

# Chromium for the browser tests (tests/browser.py): Debian's package, which Playwright
# drives through executable_path; `playwright install` downloads fail here. Runs once.
# REFRAME_CHROMIUM names another executable. Without root or sudo it prints the command.
CHROMIUM_STAMP := $(VENV)/.chromium
CHROMIUM_INSTALL := apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
.PHONY: chromium
setup: $(CHROMIUM_STAMP)
chromium: $(CHROMIUM_STAMP)
$(CHROMIUM_STAMP): | $(STAMP)
	@if [ -x "$${REFRAME_CHROMIUM:-/usr/bin/chromium}" ] || command -v chromium >/dev/null; then \
		touch $@; \
	elif [ "$$(id -u)" = 0 ]; then \
		sh -c '$(CHROMIUM_INSTALL)' && touch $@; \
	elif command -v sudo >/dev/null; then \
		sudo sh -c '$(CHROMIUM_INSTALL)' && touch $@; \
	else \
		echo "Chromium is missing and there is no root or sudo: the browser tests skip (fail under CI=true)." >&2; \
		echo "Install it as root: $(CHROMIUM_INSTALL)" >&2; \
		[ "$$CI" != true ]; \
	fi
