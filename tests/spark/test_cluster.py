"""``--engine spark`` on a real cluster: a standalone master and a worker on 127.0.0.1
whose Python has pyspark, polars and pyarrow but not retcalc (``conftest.cluster``).

retcalc ships itself and probes the executors; every command's table equals the
Polars engine's, on the sample and on a generated shop (--by; day, week, month and
quarter periods; CSV, messy CSV, Parquet, hive folders, globs). The commands run in one
driver process (``run_commands``): Spark's JVM starts once for all of them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from tests.spark.compare import assert_same_table, csv_table
from tests.spark.conftest import ROOT, SAMPLE, needs_spark
from tests.spark.generated import shop

# Its own group, beside the local Spark session of the group "spark"; and one test
# function, so that one pytest-xdist worker starts the cluster even where the group
# mark is not honoured (pytest-xdist 3.8 under pytest 9.2 does not group).
pytestmark = [needs_spark, pytest.mark.xdist_group("spark-cluster")]

ORDERS = str(SAMPLE / "orders.csv")


def commands(d: Path) -> dict[str, tuple[str, ...]]:
    """Every command once or more, on the sample and on the generated shop in ``d``: each
    command's agreement with the Polars engine, option by option, is checked on a local
    session (``test_cli_spark``); here, that each runs where retcalc is shipped."""
    return {
        "retention-sample": ("retention", ORDERS, "-p", "quarter", "-w", "90d"),
        "cohorts-sample-conf": ("cohorts", ORDERS, "-p", "quarter"),
        "returns-shop-messy-week-by-product": (
            *("returns", str(d / "orders_messy.csv")),
            *("-p", "week", "--by", "product_id", "--by-return-date"),
        ),
        "churn-shop-parquet-day": ("churn", str(d / "orders.parquet"), "-p", "day", "-w", "30d"),
        "cohorts-shop-hive-month-by-channel": (
            *("cohorts", str(d / "hive"), "-p", "month", "--by", "channel"),
        ),
        "kpis-shop-glob-quarter-by-segment": (
            *("kpis", str(d / "parts" / "*.csv"), "--customers", str(d / "customers.csv")),
            *("-p", "quarter", "--by", "segment"),
        ),
        # On the executors (orders only): the kernels run where retcalc is the shipped zip.
        "kpis-shop-messy-month-by-channel": (
            *("kpis", str(d / "orders_messy.csv"), "-p", "month", "--by", "channel"),
        ),
        "clv-shop-parquet-by-channel": ("clv", str(d / "orders.parquet"), "--by", "channel"),
        "rfm-shop-messy-by-channel": ("rfm", str(d / "orders_messy.csv"), "--by", "channel"),
        "rfm-sample-per-customer": ("rfm", ORDERS, "--per-customer"),
    }


#: What only Spark takes: a setting, which does not change the table.
SPARK_ONLY = {"cohorts-sample-conf": ("--conf", "spark.sql.shuffle.partitions=3")}


def run_in_one_driver(
    steps: list[dict[str, Any]], directory: Path, env: dict[str, str]
) -> list[dict[str, Any]]:
    results = directory / f"results-{len(list(directory.glob('results-*.json')))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.spark.run_commands", str(results)],
        input=json.dumps(steps),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text())


def driver_env(cluster: Any, **extra: str) -> dict[str, str]:
    """This process's environment (PYTHONPATH included: the driver's retcalc is this
    checkout's) without its Spark settings, with the cluster's spark-defaults.conf."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SPARK_REMOTE", "PYSPARK_PYTHON", "SPARK_HOME")
        and not k.startswith("PYSPARK_")
    }
    env.update(SPARK_CONF_DIR=cluster.env["SPARK_CONF_DIR"], SPARK_LOCAL_IP="127.0.0.1", **extra)
    return env


def polars_table(args: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*args, "--format", "csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def assert_same(name: str, polars_csv: str, spark: dict[str, Any]) -> None:
    assert spark["exit_code"] == 0, f"{name}: {spark['stderr'][-2000:]} {spark['exception']}"
    if spark["stdout"] != polars_csv:  # the last digit of a float may differ: 1e-12
        assert_same_table(csv_table(polars_csv), csv_table(spark["stdout"]), name)


def classic_runs(cluster: Any, worker_python: Path, shop_dir: Path) -> dict[str, dict[str, Any]]:
    """Every command on the cluster, in one driver; then the probe against a worker
    Python without polars, and against one that does not exist."""
    from tests.spark.cluster import worker_python as make_python

    # The cluster's settings come from spark-defaults.conf, as on a real one: one
    # core and 512 MiB per application (two fit on the worker), the workers' Python.
    (Path(cluster.env["SPARK_CONF_DIR"]) / "spark-defaults.conf").write_text(
        f"spark.pyspark.python {worker_python}\n"
        "spark.cores.max 1\n"
        "spark.executor.memory 512m\n"
        "spark.driver.memory 1g\n"
    )
    engine = ("--engine", "spark", "--spark-master", cluster.master_url, "--format", "csv")
    todo = commands(shop_dir)
    steps: list[dict[str, Any]] = [
        {"args": [*args, *engine, *SPARK_ONLY.get(name, ())]} for name, args in todo.items()
    ]
    names = list(todo)
    no_polars = make_python(cluster.directory, ("retcalc", "polars"))
    steps.append({"args": [*todo["retention-sample"], *engine], "python": str(no_polars)})
    names.append("probe-without-polars")
    steps.append({"args": [*todo["churn-shop-parquet-day"], *engine], "python": "/no/python"})
    names.append("probe-without-python")
    results = run_in_one_driver(steps, cluster.directory, driver_env(cluster))
    return dict(zip(names, results, strict=True))


def test_on_a_cluster_whose_workers_lack_retcalc(
    cluster: Any, worker_python: Path, tmp_path: Path, subtests: Any
) -> None:
    """The whole cluster in one test (see ``pytestmark``), a subtest per check."""
    (tmp_path / "shop").mkdir()
    shop_dir = shop(tmp_path / "shop")
    todo = commands(shop_dir)
    runs = classic_runs(cluster, worker_python, shop_dir)
    for name, args in todo.items():
        with subtests.test(msg=name):
            assert_same(name, polars_table(args), runs[name])
            assert "retcalc: computed on Spark (spark://127.0.0.1:" in runs[name]["stderr"]

    with subtests.test(msg="the probe ran once per session"):
        first = runs["retention-sample"]["probe_seconds"]
        assert first is not None and first > 0
        assert {r["probe_seconds"] for n, r in runs.items() if n in todo} == {first}

    with subtests.test(msg="the user's settings stand, partitions follow the input"):
        # spark-defaults.conf's driver memory, not retcalc's 4g; shuffle partitions sized
        # from the sample (0.7 MB): the default parallelism (2 on this cluster), until --conf.
        settings = runs["retention-sample"]["conf"]
        assert settings == {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2"}
        assert runs["cohorts-sample-conf"]["conf"]["spark.sql.shuffle.partitions"] == "3"

    with subtests.test(msg="a worker Python without polars: what to install"):
        failed = runs["probe-without-polars"]
        assert failed["exit_code"] == 2, failed["stderr"]
        message = failed["stderr"].strip().splitlines()[-1]
        assert message.startswith("retcalc: error: the Spark executors cannot run retcalc: ")
        assert "polars is not installed" in message
        assert "pip install 'polars>=1.20'" in message
        assert "pyarrow" not in message.partition("pip install")[2]  # it has pyarrow
        assert "Traceback" not in failed["stderr"] and failed["stdout"] == ""

    with subtests.test(msg="a worker Python that cannot start"):
        failed = runs["probe-without-python"]
        assert failed["exit_code"] == 2, failed["stderr"]
        message = failed["stderr"].strip().splitlines()[-1]
        assert message.startswith(
            'retcalc: error: the Spark executors cannot run Python: Cannot run program "/no/python"'
        )
        assert "--conf spark.pyspark.python=PATH" in message
        assert "pip install 'polars>=1.20' 'pyarrow>=14'" in message
        assert "Traceback" not in failed["stderr"] and failed["stdout"] == ""

    with subtests.test(msg="Spark Connect"):
        if importlib.util.find_spec("grpc") is None:
            pytest.skip(
                "Spark Connect tests need pyspark's connect extra (grpcio, grpcio-status, "
                "googleapis-common-protos, zstandard): pip install 'retcalc[spark]'"
            )
        server = cluster.start_connect(worker_python)
        try:
            names = ["cohorts-shop-hive-month-by-channel"]
            # Spark Connect does not tell its cores: retcalc's shuffle partitions would be
            # at least Spark's 200 (docs/spark.md), each a task on this one-core cluster.
            engine = ("--engine", "spark", "--format", "csv")
            shuffle = ("--conf", "spark.sql.shuffle.partitions=2")
            steps = [{"args": [*todo[n], *engine, *shuffle]} for n in names]
            env = driver_env(cluster, SPARK_REMOTE=cluster.connect_url)
            results = run_in_one_driver(steps, cluster.directory, env)
        finally:
            cluster.stop_one(server)
        for name, spark in zip(names, results, strict=True):
            assert_same(name, polars_table(todo[name]), spark)
            assert f"computed on Spark Connect ({cluster.connect_url}, " in spark["stderr"]
