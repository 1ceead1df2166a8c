"""Finding Spark: the optional pyspark install, Java, and the session to run on.

- ``SPARK_REMOTE`` set (``sc://host:15002``): a Spark Connect session; the
  cluster does the work and needs no Java here.
- else ``--spark-master URL`` (``spark://host:7077``, ``yarn``, ``local[4]``), or
  ``local[*]``: a classic session started from this process (needs Java).

An already running session (``spark-submit``, a notebook, the tests) is reused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from retcalc.errors import UsageError, first_line

INSTALL = "pip install 'retcalc[spark]'"
DEFAULT_MASTER = "local[*]"
#: Settings of a session retcalc starts itself (not of one it joins).
CONFIG = {
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Larger Arrow batches: each one is a Polars frame, with a fixed cost per frame.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "200000",
    "spark.driver.memory": "4g",
    # A laptop or CI machine, not a cluster: few, larger shuffle partitions.
    "spark.sql.shuffle.partitions": "8",
}


CONF_DIR = Path(__file__).with_name("conf")


def require_pyspark() -> None:
    """Exit 2 with the install command when pyspark (or pyarrow) is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"--engine spark needs pyspark and pyarrow ({exc.name} is not installed): {INSTALL}"
        ) from None


def java_executable() -> str | None:
    """The ``java`` Spark would start: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def _quiet_pyspark() -> None:
    # pyspark warns about pandas versions it has not been tested with; retcalc
    # passes data through Arrow, not pandas.
    warnings.filterwarnings(
        "ignore", message=".*PySpark does not yet fully support", category=FutureWarning
    )


def active() -> Any | None:
    """The session already running in this process, if any."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def get_session(master: str | None) -> tuple[Any, str]:
    """The session to compute on and a few words saying where that is.

    Whatever the session, its SQL time zone is set to UTC: timestamps then reach
    retcalc's parsing code as the default engine reads them from the file.
    """
    require_pyspark()
    _quiet_pyspark()
    from pyspark.sql import SparkSession

    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        if master:
            raise UsageError(
                "--spark-master and SPARK_REMOTE both name a cluster: unset SPARK_REMOTE "
                "or drop --spark-master"
            )
        try:
            spark = SparkSession.builder.remote(remote).getOrCreate()
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as exc:  # pyspark raises many kinds here
            raise UsageError(
                f"cannot connect to Spark Connect at {remote}: {first_line(exc)}"
            ) from None
        return spark, f"Spark Connect ({remote}, {spark.version})"
    running = active()
    spark = running if running is not None else _start(master)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark, f"Spark ({spark.sparkContext.master}, {spark.version})"


def _start(master: str | None) -> Any:
    """A classic session: under ``spark-submit`` the one it set up, else a local one."""
    from pyspark.sql import SparkSession

    if java_executable() is None:
        raise UsageError(
            "--engine spark needs Java (17 or later) to start Spark: none found on PATH "
            "or in JAVA_HOME; install a JDK (e.g. apt-get install openjdk-17-jre-headless), "
            "or set SPARK_REMOTE=sc://host:15002 to use a Spark Connect cluster"
        )
    builder = SparkSession.builder.appName("retcalc")
    # spark-submit starts the JVM and says so in the environment: its --master and
    # --conf settings stand, unless --spark-master is given.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if master or not submitted:
        builder = builder.master(master or DEFAULT_MASTER)
    if not submitted:
        # Spark's Python workers must be this interpreter (it has retcalc and polars).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if "SPARK_CONF_DIR" not in os.environ and "SPARK_HOME" not in os.environ:
            # pip's pyspark has no configuration of its own: log errors only.
            os.environ["SPARK_CONF_DIR"] = str(CONF_DIR)
        for key, value in CONFIG.items():
            builder = builder.config(key, value)
    try:
        with _no_stdout():
            spark = builder.getOrCreate()
    except Exception as exc:
        raise UsageError(
            f"cannot start Spark ({master or DEFAULT_MASTER}): {first_line(exc)}"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def _no_stdout() -> Any:
    """Keep what the JVM prints while starting off standard output (it carries data only)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
