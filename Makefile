# Two commands do all the set-up: `make run` and `make test`.
# Both create .venv on first use and install the pinned dependencies from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := server channels handlers storage core devservices jobs objectstore

.PHONY: run test test-unit lint fuzz migrate seed clean-var loadtest bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python run.py

migrate: $(STAMP)
	$(BIN)/python run.py migrate

# Demo data, e.g. `make seed SEED_ARGS="--users 1000 --videos 10000 --reset"`.
seed: $(STAMP)
	$(BIN)/python run.py seed $(SEED_ARGS)

# Every tier (tests/conftest.py lists them); browser tests run when a Chromium is found.
test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

# The unit tier alone: no Postgres, no Redis, a few seconds.
test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES) run.py
	$(BIN)/lint-imports

# Schemathesis (all checks, anonymous and as an admin, stateful) against a node on loopback;
# bounded by FUZZ_ARGS, e.g. `make fuzz FUZZ_ARGS="--max-examples 200 --max-time 900"`.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz $(FUZZ_ARGS)

# A bounded headless Locust run against a fresh local node with seeded data; CSV and HTML
# reports in loadtests/reports/. Override e.g. `make loadtest LOADTEST_ARGS="--users 100"`.
loadtest: $(STAMP)
	$(BIN)/python loadtests/run_loadtest.py $(LOADTEST_ARGS)

# The HTTP figures of BENCHMARKS.md (p50/p95/p99 per endpoint, ratio to an empty handler).
bench: $(STAMP)
	$(BIN)/python loadtests/http_bench.py $(BENCH_ARGS)

clean-var:
	rm -rf var
