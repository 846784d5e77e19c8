# Parley: `make run` serves the embedded default; `make test` sets up and runs every test.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/parley
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run setup migrate test test-fast lint format services bench bench-quick clean

$(BIN)/.installed: requirements.txt requirements-dev.txt requirements-bench.txt
	@test -x $(BIN)/python || "$$(bin/find-python)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(BIN)/.installed

migrate: setup
	@mkdir -p var staticfiles
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python bin/serve

services:
	@bin/ensure-services

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every test runs against PostgreSQL (production's database); the storage tests run a second
# time on SQLite (the embedded default).
test: setup services lint
	@mkdir -p var
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest
	DATABASE_URL=sqlite:///var/test.sqlite3 $(BIN)/python -m pytest -m storage -q

test-fast: setup
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -x -q -m "not browser"

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (docs/performance.md): the runner starts every server it measures and stops it.
bench: setup
	$(BIN)/python -m parley.bench --profile full

bench-quick: setup
	$(BIN)/python -m parley.bench --profile quick
