# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BENCH_SIZES ?= 1M,10M,50M
BENCH_SPARK_DATA ?= bench/data/10M/parquet

PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install install-test demo test lint bench bench-startup bench-spark clean report-screenshot

# One venv; each target installs what it needs once (a stamp file per set), again when
# pyproject.toml changes. `make demo` then `make test` adds the test extra to the same venv.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	@touch $@

install: $(VENV)/.runtime-installed  ## retcalc and its runtime dependencies only

install-test: $(VENV)/.test-installed  ## and the test extra (pytest, pyspark, duckdb, ...)

demo: install
	$(BIN)/retcalc retention sample_data/orders.csv --period quarter --format table
	$(BIN)/retcalc churn sample_data/orders.csv --period quarter --format table

test: install-test  ## the suite on every core (pytest-xdist; the Spark tests share one worker)
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: install-test
	$(BIN)/ruff check retcalc tests
	$(BIN)/ruff format --check retcalc tests
	$(BIN)/mypy

bench: install-test  ## retcalc vs DuckDB SQL vs a bare scan; writes bench/results.md
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES)

bench-startup: install  ## --help and retention on the sample against their floors; writes bench/results.md "## Start-up"
	$(BIN)/python bench/startup.py --write

bench-spark: install-test  ## Polars vs local Spark on bench/data/10M (from `make bench`); writes bench/results-spark.md
	$(BIN)/python bench/bench_spark.py --data $(BENCH_SPARK_DATA)

report-screenshot: install  ## the sample HTML report in headless Chromium, network off -> build/report.png
	scripts/screenshot_report.sh "" build/report.png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
