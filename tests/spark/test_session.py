"""How retcalc sets up Spark: the user's settings, the partition rule, the shipped zip
and the probe's verdict. No JVM here except in the last test (the local session)."""

from __future__ import annotations

import os
import subprocess
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.engines.spark import session
from retcalc.errors import UsageError
from tests.spark.conftest import ROOT, SAMPLE, needs_spark

MiB = 1024 * 1024


def test_conf_options_parse_and_a_later_one_wins() -> None:
    assert session.parse_conf(None) == {}
    assert session.parse_conf(["a.b=1", "c= x=y ", "a.b=2"]) == {"a.b": "2", "c": " x=y "}
    for bad in ("spark.executor.memory", "=8g"):
        with pytest.raises(UsageError, match="expected KEY=VALUE"):
            session.parse_conf([bad])


def test_spark_defaults_read_like_spark_submit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spark-defaults.conf").write_text(
        "# comment\n"
        "spark.driver.memory   8g\n"
        "spark.driver.extraJavaOptions -Da=b -Dc=d\n"
        "spark.sql.shuffle.partitions=64\n"
        "spark.executor.cores: 3\n"
        "\n"
    )
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert session.spark_defaults() == {
        "spark.driver.memory": "8g",
        "spark.driver.extraJavaOptions": "-Da=b -Dc=d",
        "spark.sql.shuffle.partitions": "64",
        "spark.executor.cores": "3",
    }
    monkeypatch.delenv("SPARK_CONF_DIR")
    monkeypatch.setenv("SPARK_HOME", str(tmp_path.parent))
    assert session.spark_defaults() == {}  # SPARK_HOME/conf has no file


class Conf(dict):
    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key, default)

    def set(self, key: str, value: str) -> None:
        self[key] = value


def classic(parallelism: int = 4, configured: dict[str, str] | None = None) -> Any:
    spark_conf = configured or {}
    context = SimpleNamespace(
        applicationId=f"app-{id(spark_conf)}",
        defaultParallelism=parallelism,
        getConf=lambda: SimpleNamespace(contains=spark_conf.__contains__),
    )
    return SimpleNamespace(conf=Conf(spark_conf), sparkContext=context)


class ConnectSession:
    """Stands for pyspark's Spark Connect session (its module says so)."""

    __module__ = "pyspark.sql.connect.session"

    def __init__(self) -> None:
        self.conf = Conf()
        self.session_id = f"s-{id(self)}"


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_shuffle_partitions_follow_the_input_unless_the_user_chose_them(tmp_path: Path) -> None:
    small, big = sparse(tmp_path / "a", 5 * MiB), sparse(tmp_path / "b", 1000 * MiB)
    spark = classic(parallelism=4)
    session._state(spark, {}, connect=False)
    assert session.size_shuffle(spark, [small]) == 4  # the default parallelism
    assert session.size_shuffle(spark, [small, big]) == 8  # ceil(1005 / 128)
    assert spark.conf["spark.sql.shuffle.partitions"] == "8"
    # A later command on the same session: retcalc's own value is no user's choice.
    session._state(spark, {}, connect=False)
    assert session.size_shuffle(spark, [small]) == 4
    # --conf, spark-defaults.conf (the context's conf) or a value set in the session: kept.
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    session._state(spark, {}, connect=False)
    assert session.size_shuffle(spark, [big]) is None
    assert spark.conf["spark.sql.shuffle.partitions"] == "3"
    configured = classic(configured={"spark.sql.shuffle.partitions": "16"})
    session._state(configured, {}, connect=False)
    assert session.size_shuffle(configured, [big]) is None
    given = classic()
    session._state(given, {"spark.sql.shuffle.partitions": "5"}, connect=False)
    assert session.size_shuffle(given, [big]) is None
    # A session retcalc did not set up (load_orders_spark called directly): untouched.
    assert session.size_shuffle(classic(), [big]) is None


def test_on_spark_connect_at_least_spark_s_default(tmp_path: Path) -> None:
    spark = ConnectSession()
    session._state(spark, {}, connect=True)
    assert session.size_shuffle(spark, [sparse(tmp_path / "a", 5 * MiB)]) == 200
    assert session.size_shuffle(spark, [sparse(tmp_path / "b", 50_000 * MiB)]) == 391
    assert session.size_shuffle(spark, []) == 200  # a remote input: no size known


def test_probe_verdicts_name_what_to_install() -> None:
    minimums = {"polars": "1.20", "pyarrow": "14"}
    fine = {"packages": {"polars": "2.1.0", "pyarrow": "26.0.1"}, "failed": {}}
    assert session.found_problems(fine, minimums) is None
    lacking, install = session.found_problems(
        {
            "packages": {"polars": None, "pyarrow": "12.0.1"},
            "failed": {"m": ["ModuleNotFoundError: No module named 'polars'", "polars"]},
        },
        minimums,
    )
    assert lacking == ["polars is not installed", "pyarrow 12.0.1 is older than 14"]
    assert install == "pip install 'polars>=1.20' 'pyarrow>=14'"
    lacking, install = session.found_problems(
        {"packages": fine["packages"], "failed": {"m": ["ImportError: x", "numpy.core"]}},
        minimums,
    )
    assert lacking == ["numpy is not installed (importing m)"] and install == "pip install numpy"
    lacking, install = session.found_problems(
        {"packages": fine["packages"], "failed": {"m": ["No module named 'retcalc'", "retcalc"]}},
        minimums,
    )
    assert lacking == ["retcalc's shipped code does not load (No module named 'retcalc')"]
    assert install == ""


def test_minimum_versions_are_the_pyproject_ones() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["spark"]]
    found = session.minimum_versions()
    for name in session.EXECUTOR_PACKAGES:
        assert f"{name}>={found[name]}" in declared


def test_the_zip_is_built_once_and_imports_where_retcalc_is_not_installed(
    tmp_path: Path,
) -> None:
    from tests.spark.cluster import worker_python

    path = session.package_zip()
    built = path.stat().st_mtime_ns
    assert session.package_zip() == path and path.stat().st_mtime_ns == built
    names = zipfile.ZipFile(path).namelist()
    assert "retcalc/__init__.py" in names and "retcalc/engines/spark/batches.py" in names
    assert not [n for n in names if "__pycache__" in n or not n.endswith(".py")]
    python = worker_python(tmp_path)
    code = (
        "import sys; sys.path.insert(1, sys.argv[1]); "
        "import retcalc.engines.spark.batches, retcalc; print(retcalc.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(python), "-c", code, str(path)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}/retcalc/__init__.py"


def test_conf_needs_the_spark_engine_and_a_key() -> None:
    orders = str(SAMPLE / "orders.csv")
    result = CliRunner().invoke(app, ["retention", orders, "--conf", "a=b"])
    assert result.exit_code == 2 and "--conf is for --engine spark" in result.stderr
    result = CliRunner().invoke(app, ["report", orders, "--conf", "a=b"])
    assert result.exit_code == 2 and "--engine polars" in result.stderr
    result = CliRunner().invoke(app, ["retention", orders, "--engine", "spark", "--conf", "x"])
    assert result.exit_code == 2 and "--conf 'x': expected KEY=VALUE" in result.stderr


@needs_spark
@pytest.mark.xdist_group("spark")
def test_a_local_master_is_neither_shipped_to_nor_probed(spark: Any) -> None:
    joined, where = session.get_session(None, {"spark.sql.shuffle.partitions": "2"})
    assert joined is spark and where.startswith("Spark (local[2], ")
    state = session._STATES[f"classic:{spark.sparkContext.applicationId}"]
    assert state.probe_seconds is None and state.user_shuffle
