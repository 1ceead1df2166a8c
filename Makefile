# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BENCH_SIZES ?= 1M,10M,50M
BENCH_SPARK_DATA ?= bench/data/10M/parquet

.PHONY: install demo test lint bench bench-spark clean report-screenshot

$(BIN)/retcalc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(BIN)/retcalc

demo: install
	$(BIN)/retcalc retention sample_data/orders.csv --period quarter --format table
	$(BIN)/retcalc churn sample_data/orders.csv --period quarter --format table

test: install  ## the suite on every core (pytest-xdist; the Spark tests share one worker)
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: install
	$(BIN)/ruff check retcalc tests
	$(BIN)/ruff format --check retcalc tests
	$(BIN)/mypy

bench: install  ## retcalc vs DuckDB SQL vs a bare scan; writes bench/results.md
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES)

bench-spark: install  ## Polars vs local Spark on bench/data/10M (from `make bench`); writes bench/results-spark.md
	$(BIN)/python bench/bench_spark.py --data $(BENCH_SPARK_DATA)

report-screenshot: install  ## the sample HTML report in headless Chromium, network off -> build/report.png
	scripts/screenshot_report.sh "" build/report.png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
