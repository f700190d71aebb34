# Two commands for a newcomer: `make run` (server on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format schema bench bench-cache catalog fuzz clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## run: create the venv, migrate, load the demo catalog if empty, then serve (gunicorn + uvicorn
## workers), one Celery worker and beat together (Procfile); Ctrl-C stops all three
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_catalog --if-empty
	$(BIN)/python manage.py collectstatic --no-input -v 0
	mkdir -p var
	$(BIN)/honcho start -f Procfile  # web (BIND, WEB_CONCURRENCY: env or .env), worker, beat

## test: the whole suite with coverage (floor 90%)
test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

## fuzz: 10,000 operations generated from the served schema (4 x 2,500), figures printed at the end
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2500} $(BIN)/python -m pytest -p no:cacheprovider -s -q tests/test_schema_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## schema: re-export schema.graphql after an API change
schema: $(STAMP)
	$(BIN)/python manage.py export_schema schema.schema:schema --path schema.graphql

## catalog: rebuild movies/catalog/data/catalog.json.gz from ../shared/data
catalog: $(STAMP)
	$(BIN)/python scripts/build_catalog.py

## bench: server CPU per request with wrk, the baseline (BENCH_ARGS="--baseline REF", default main) and
## this checkout side by side, local catalog on PostgreSQL + Redis from DATABASE_URL/REDIS_URL
bench: $(STAMP)
	$(BIN)/python -m bench.speed $(BENCH_ARGS)

## bench-cache: the cache and cold-start figures against the fake TMDb (prints a table; never fails on timing)
bench-cache: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) staticfiles .coverage .pytest_cache
