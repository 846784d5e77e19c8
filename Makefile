# Parley: `make run` installs the runtime and serves the embedded default; `make test` installs the
# rest (extras dev, bench, daphne) and runs every test. `make lock` refreshes the lock files.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/parley
export PYTHONDONTWRITEBYTECODE := 1

# Installs use uv when it is on PATH and pip otherwise (`make run UV=` forces pip).
UV ?= $(shell command -v uv 2>/dev/null)
ifneq ($(strip $(UV)),)
NEW_VENV = $(UV) venv --quiet --seed --python "$$(bin/find-python)" $(VENV)
INSTALL = $(UV) pip install --quiet --compile-bytecode --python $(BIN)/python
else
NEW_VENV = bin/venv-pip new $(VENV)
INSTALL = bin/venv-pip $(VENV) install --quiet
endif
# The lock tool: uv on PATH, else the one the dev extra puts in the venv.
LOCK = $(or $(strip $(UV)),$(BIN)/uv) pip compile --quiet --universal --python-version 3.12 \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: run worker runtime setup migrate lock test test-fast lint format services bench bench-quick clean

$(BIN)/python:
	@test -x $@ || $(NEW_VENV)

# Each set is installed from its lock (hash-checked), then from its requirements files: that second
# pass installs nothing while the lock is current, and only a line newer than the lock otherwise
# (tests/test_packaging.py then asks for `make lock`).
$(BIN)/.runtime: requirements.lock requirements.txt | $(BIN)/python
	$(INSTALL) -r requirements.lock
	$(INSTALL) -r requirements.txt
	@touch $@

$(BIN)/.daphne: $(BIN)/.runtime requirements-daphne.lock requirements-daphne.txt
	$(INSTALL) -r requirements-daphne.lock
	$(INSTALL) -r requirements.txt -r requirements-daphne.txt
	@touch $@

$(BIN)/.installed: $(BIN)/.runtime requirements-dev.lock requirements-daphne.txt requirements-bench.txt requirements-dev.txt
	$(INSTALL) -r requirements-dev.lock
	$(INSTALL) -r requirements.txt -r requirements-daphne.txt -r requirements-bench.txt -r requirements-dev.txt
	@touch $@

runtime: $(BIN)/.runtime

setup: $(BIN)/.installed

migrate: runtime
	@mkdir -p var staticfiles
	$(BIN)/python manage.py migrate --noinput

# SERVER=daphne adds the daphne extra. The task worker (thumbnails, mail, outgoing webhooks, the
# periodic cleanup) runs beside the server and stops with it; in production it is a process of its own (`make worker`, docs/deploy.md).
run: migrate $(if $(filter daphne,$(SERVER)),$(BIN)/.daphne)
	@$(BIN)/python manage.py parley_worker --no-reload --no-startup-delay & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python bin/serve

# The background task worker alone (parley_worker: django-tasks-db's db_worker, with the periodic jobs
# scheduled first): run one or more beside the servers.
worker: migrate
	$(BIN)/python manage.py parley_worker --no-reload

# After editing requirements*.txt. Keeps every pin it can; LOCK_ARGS=--upgrade (or
# --upgrade-package NAME) moves pins forward.
lock: $(if $(strip $(UV)),,setup)
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) -c requirements.lock requirements.txt requirements-daphne.txt -o requirements-daphne.lock
	$(LOCK) -c requirements-daphne.lock requirements.txt requirements-daphne.txt requirements-bench.txt \
		requirements-dev.txt -o requirements-dev.lock

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
	$(BIN)/python -m parley.bench --profile full --clients bench,plain

bench-quick: setup
	$(BIN)/python -m parley.bench --profile quick --clients bench,plain
