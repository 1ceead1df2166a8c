"""One local Spark session for every Spark test (local[2], few shuffle partitions).

The tests are skipped, with the reason, where pyspark/pyarrow or Java is missing;
``make test`` installs pyspark (the test extra), and CI has Java 17.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retcalc.engines.spark.session import java_executable

MISSING = [m for m in ("pyspark", "pyarrow") if importlib.util.find_spec(m) is None]
REASON = (
    f"Spark tests need {' and '.join(MISSING)}: pip install 'retcalc[spark]'"
    if MISSING
    else "Spark tests need Java 17+ (java on PATH or JAVA_HOME)"
    if java_executable() is None
    else ""
)
needs_spark = pytest.mark.skipif(bool(REASON), reason=REASON or "Spark is available")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if REASON:
        pytest.skip(REASON)
    import warnings

    warnings.filterwarnings(
        "ignore", message=".*PySpark does not yet fully support", category=FutureWarning
    )
    from pyspark.sql import SparkSession

    from retcalc.engines.spark.session import CONFIG

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[2]").appName("retcalc-tests")
    for key, value in {**CONFIG, "spark.sql.shuffle.partitions": "2"}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone master and one worker (2 cores, 1 GiB: two one-core applications at
    once) on 127.0.0.1, stopped at the end of the session."""
    if REASON:
        pytest.skip(REASON)
    from tests.spark.cluster import Cluster, base_env

    directory = tmp_path_factory.mktemp("cluster")
    running = Cluster(directory, base_env(directory))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def worker_python(cluster: Any) -> Path:
    """The workers' Python: this one, where ``import retcalc`` fails (also from this
    checkout, also with its PYTHONPATH) but polars, pyarrow and pyspark import."""
    import subprocess

    from tests.spark.cluster import worker_python

    python = worker_python(cluster.directory)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hidden = subprocess.run(
        [str(python), "-c", "import retcalc"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert hidden.returncode != 0 and "No module named 'retcalc'" in hidden.stderr
    subprocess.run([str(python), "-c", "import polars, pyarrow, pyspark"], env=env, check=True)
    return python
