"""Finding Spark: the optional pyspark install, Java, and the session to run on.

- ``SPARK_REMOTE`` set (``sc://host:15002``): a Spark Connect session; the
  cluster does the work and needs no Java here.
- else ``--spark-master URL`` (``spark://host:7077``, ``yarn``, ``local[4]``), or
  ``local[*]``: a classic session started from this process (needs Java).

An already running session (``spark-submit``, a notebook, the tests) is reused.

On a cluster (any master but ``local``/``local[N]``, and always on Spark Connect)
retcalc ships its own code to the executors as a zip (:func:`package_zip`) and
checks them with a one-task probe (:func:`probe`) before the job; on a local
master the executors are this very interpreter, and neither is needed.

Settings (``--conf KEY=VALUE``, ``spark-defaults.conf``) are the user's: retcalc's
own defaults (:data:`CONFIG`) fill in only what they leave unset, and
``spark.sql.shuffle.partitions``, when unset, is sized from the input
(:func:`size_shuffle`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retcalc.errors import UsageError, first_line

INSTALL = "pip install 'retcalc[spark]'"
DEFAULT_MASTER = "local[*]"
#: retcalc's settings of a session it starts itself (not of one it joins), each only
#: where the user's --conf and spark-defaults.conf leave it unset.
CONFIG = {
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Larger Arrow batches: each one is a Polars frame, with a fixed cost per frame.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "200000",
    "spark.driver.memory": "4g",
}
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
#: Spark's own default of SHUFFLE_PARTITIONS: a session showing it was not set by anyone.
SPARK_SHUFFLE_DEFAULT = "200"
#: Input bytes per shuffle partition when retcalc sizes them (Spark's own file split size).
PARTITION_BYTES = 128 * 1024 * 1024
#: What the executors import: the modules whose code Spark runs there.
EXECUTOR_MODULES = ("retcalc.engines.spark.batches",)
#: The executors' own dependencies (their minimum versions come from retcalc's metadata).
EXECUTOR_PACKAGES = ("polars", "pyarrow")

CONF_DIR = Path(__file__).with_name("conf")


@dataclass
class _State:
    """What retcalc did to one session: shipped and probed once, partitions it sized."""

    user_shuffle: bool = False
    sized: str | None = None  # the shuffle partitions retcalc set on it
    probe_seconds: float | None = None  # shipping and probing took; None: not done yet


_STATES: dict[str, _State] = {}


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


def parse_conf(items: Iterable[str] | None) -> dict[str, str]:
    """``--conf KEY=VALUE`` options as a dict (a later one wins, as with spark-submit)."""
    settings: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--conf {item!r}: expected KEY=VALUE, e.g. --conf spark.executor.memory=8g"
            )
        settings[key] = value
    return settings


def spark_defaults() -> dict[str, str]:
    """The settings of ``spark-defaults.conf`` (in ``SPARK_CONF_DIR``, else
    ``SPARK_HOME/conf``), which ``spark-submit`` applies to the session it starts."""
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (
        str(Path(os.environ["SPARK_HOME"]) / "conf") if os.environ.get("SPARK_HOME") else None
    )
    if conf_dir is None:
        return {}
    try:
        text = (Path(conf_dir) / "spark-defaults.conf").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    settings = {}
    for line in text.splitlines():
        # A Java properties line: KEY VALUE, KEY=VALUE or KEY: VALUE.
        match = re.match(r"\s*([^\s=:#!][^\s=:]*)\s*[\s=:]\s*(.*?)\s*$", line)
        if match:
            settings[match[1]] = match[2]
    return settings


def is_local(master: str) -> bool:
    """A master whose executors are threads of the driver (``local``, ``local[4]``): its
    Python workers run this interpreter (``local-cluster[...]`` starts real executors)."""
    return master == "local" or master.startswith("local[")


def get_session(master: str | None, conf: Mapping[str, str] | None = None) -> tuple[Any, str]:
    """The session to compute on and a few words saying where that is.

    ``conf``: the user's ``--conf`` settings. Whatever the session, its SQL time zone is
    set to UTC: timestamps then reach retcalc's parsing code as the default engine reads
    them from the file. On a cluster, retcalc's code is shipped and the executors probed.
    """
    require_pyspark()
    _quiet_pyspark()
    from pyspark.sql import SparkSession

    settings = dict(conf or {})
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
        _apply_running(spark, settings)
        state = _state(spark, settings, connect=True)
        where = f"Spark Connect ({remote}, {spark.version})"
        cluster = True
    else:
        running = active()
        spark = running if running is not None else _start(master, settings)
        if running is not None:
            _apply_running(spark, settings)
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        state = _state(spark, settings, connect=False)
        where = f"Spark ({spark.sparkContext.master}, {spark.version})"
        cluster = not is_local(spark.sparkContext.master)
    if cluster and state.probe_seconds is None:
        began = time.perf_counter()
        ship(spark, package_zip(), connect=bool(remote))
        probe(spark)
        state.probe_seconds = time.perf_counter() - began
    return spark, where


def _key(spark: Any, connect: bool) -> str:
    if connect:
        return f"connect:{getattr(spark, 'session_id', id(spark))}"
    return f"classic:{spark.sparkContext.applicationId}"


def _state(spark: Any, settings: Mapping[str, str], *, connect: bool) -> _State:
    """This session's record; whether the user chose the shuffle partitions, asked anew
    (a joined session's value that retcalc did not set is the user's)."""
    state = _STATES.setdefault(_key(spark, connect), _State())
    current = spark.conf.get(SHUFFLE_PARTITIONS, SPARK_SHUFFLE_DEFAULT)
    if SHUFFLE_PARTITIONS in settings:
        state.user_shuffle = True
    elif state.sized is None or current != state.sized:
        configured = not connect and spark.sparkContext.getConf().contains(SHUFFLE_PARTITIONS)
        state.user_shuffle = configured or current != SPARK_SHUFFLE_DEFAULT
    else:
        state.user_shuffle = False
    return state


def _start(master: str | None, settings: Mapping[str, str]) -> Any:
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
        defaults = spark_defaults()
        # pyspark reads the executors' interpreter from PYSPARK_PYTHON only; Spark's
        # spark.pyspark.python wins over it.
        python = settings.get("spark.pyspark.python") or defaults.get("spark.pyspark.python")
        if python:
            os.environ["PYSPARK_PYTHON"] = python
        elif is_local(master or DEFAULT_MASTER):
            # The local executors are this interpreter (it has retcalc and polars); a
            # cluster's workers have their own Python, found there.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if "SPARK_CONF_DIR" not in os.environ and "SPARK_HOME" not in os.environ:
            # pip's pyspark has no configuration of its own: log errors only.
            os.environ["SPARK_CONF_DIR"] = str(CONF_DIR)
        given = {*settings, *defaults}
        if "SPARK_DRIVER_MEMORY" in os.environ:
            given.add("spark.driver.memory")
        for key, value in CONFIG.items():
            if key not in given:
                builder = builder.config(key, value)
    for key, value in settings.items():
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


def _apply_running(spark: Any, settings: Mapping[str, str]) -> None:
    """``--conf`` on a session already running: what it can still take, else exit 2."""
    for key, value in settings.items():
        if spark.conf.get(key, None) == value:
            continue
        try:
            spark.conf.set(key, value)
        except Exception as exc:
            raise UsageError(
                f"--conf {key}={value}: the Spark session is already running and cannot "
                f"take it ({first_line(exc)}); set it where the session starts "
                "(spark-submit --conf, spark-defaults.conf, or the Spark Connect server)"
            ) from None


def size_shuffle(spark: Any, files: Sequence[Path], frame: Any | None = None) -> int | None:
    """Set ``spark.sql.shuffle.partitions`` from the input's size, unless the user chose it:
    one partition per :data:`PARTITION_BYTES` of input, at least the default parallelism
    (Spark Connect does not tell it: at least Spark's default 200). Returns the number set.

    ``files``: the local files of the input; a remote input's size is Spark's estimate
    of ``frame`` (a classic session's; Spark Connect gives none).
    """
    connect = _is_connect(spark)
    state = _STATES.get(_key(spark, connect))
    if state is None or state.user_shuffle:
        return None
    size = sum(_file_size(f) for f in files) if files else _estimated_size(frame, connect)
    floor = int(SPARK_SHUFFLE_DEFAULT) if connect else spark.sparkContext.defaultParallelism
    count = max(floor, math.ceil(size / PARTITION_BYTES) if size else 0, 1)
    state.sized = str(count)
    spark.conf.set(SHUFFLE_PARTITIONS, state.sized)
    return count


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _estimated_size(frame: Any | None, connect: bool) -> int | None:
    if frame is None or connect:
        return None
    try:
        return int(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes().toString())
    except Exception:  # an estimate only: without it, the floor
        return None


def package_zip() -> Path:
    """retcalc's own Python files as a zip for the executors (``import retcalc`` works from
    it), built once per content: cached in the temporary directory under a hash of it."""
    import retcalc

    root = Path(retcalc.__file__).resolve().parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    contents = []
    for path in files:
        name = path.relative_to(root.parent).as_posix()
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
        contents.append((name, data))
    folder = Path(tempfile.gettempdir()) / f"retcalc-spark-{os.getuid()}"
    target = folder / f"retcalc-{retcalc.__version__}-{digest.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    folder.mkdir(mode=0o700, exist_ok=True)
    partial = folder / f".{target.name}.{os.getpid()}"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    os.replace(partial, target)
    return target


def ship(spark: Any, path: Path, *, connect: bool) -> None:
    """Put the zip on the executors' ``sys.path`` for every later task of this session."""
    before = list(sys.path)
    try:
        if connect:
            spark.addArtifacts(str(path), pyfile=True)
        else:
            spark.sparkContext.addPyFile(str(path))
    except Exception as exc:
        raise UsageError(
            f"cannot send retcalc's code ({path}) to the Spark cluster: {first_line(exc)}"
        ) from None
    finally:
        # pyspark also puts it first on this process's path; the driver keeps its own.
        sys.path[:] = before


def _probe_task(modules: tuple[str, ...], packages: tuple[str, ...]) -> Callable[[Any], str]:
    """The probe's body. A closure, so that it travels by value: it needs nothing of
    retcalc to start, and says what an executor's Python lacks."""

    def run(_: Any) -> str:
        import importlib
        import json
        import sys

        found: dict[str, Any] = {
            "python": ".".join(map(str, sys.version_info[:3])),
            "executable": sys.executable,
            "packages": {},
            "failed": {},
        }
        for name in packages:
            try:
                found["packages"][name] = importlib.import_module(name).__version__
            except Exception:
                found["packages"][name] = None
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:
                missing = exc.name if isinstance(exc, ImportError) else None
                found["failed"][name] = [f"{type(exc).__name__}: {exc}", missing]
        return json.dumps(found)

    return run


def probe(spark: Any) -> dict[str, Any]:
    """One task on an executor imports what the job needs there; what is missing or too
    old ends the command (exit 2) with what to install on the workers' Python."""
    from pyspark.sql import functions as F

    task = F.udf(_probe_task(EXECUTOR_MODULES, EXECUTOR_PACKAGES), "string", useArrow=False)
    try:
        answer = spark.range(0, 1, 1, 1).select(task(F.col("id"))).collect()[0][0]
    except Exception as exc:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        raise UsageError(
            f"the Spark executors cannot run Python: {_cause(exc)}; point spark.pyspark.python "
            f"(--conf spark.pyspark.python=PATH) or PYSPARK_PYTHON at a Python {version} (this "
            f"one's version) on the workers, with {' and '.join(EXECUTOR_PACKAGES)}: "
            f"{_install(EXECUTOR_PACKAGES)}"
        ) from None
    found = json.loads(answer)
    problems = found_problems(found, minimum_versions())
    if problems:
        lacking, install = problems
        where = f"{found['executable']}, Python {found['python']}"
        hint = (
            f"; install on every worker: {install} (or point spark.pyspark.python, e.g. "
            "--conf spark.pyspark.python=/path/to/python, at a Python that has them)"
            if install
            else ""
        )
        raise UsageError(
            f"the Spark executors cannot run retcalc: {'; '.join(lacking)} in their Python "
            f"({where}){hint}"
        )
    return found


def found_problems(
    found: Mapping[str, Any], minimums: Mapping[str, str]
) -> tuple[list[str], str] | None:
    """What the probe's answer lacks, and the ``pip install`` that gives it (``""`` when
    no install would help); None when nothing."""
    lacking: list[str] = []
    packages: list[str] = []
    for name, version in found["packages"].items():
        need = minimums.get(name)
        if version is None:
            lacking.append(f"{name} is not installed")
            packages.append(name)
        elif need is not None and _version(version) < _version(need):
            lacking.append(f"{name} {version} is older than {need}")
            packages.append(name)
    for module, (error, missing) in found["failed"].items():
        top = (missing or "").partition(".")[0]
        if top in packages:
            continue
        if top and top != "retcalc":
            lacking.append(f"{top} is not installed (importing {module})")
            packages.append(top)
        else:
            lacking.append(f"retcalc's shipped code does not load ({error})")
    if not lacking:
        return None
    return lacking, _install(packages, minimums) if packages else ""


def minimum_versions() -> dict[str, str]:
    """The executors' packages' minimum versions, from retcalc's metadata (pyproject.toml)."""
    try:
        requirements = importlib.metadata.requires("retcalc") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found: dict[str, str] = {}
    for requirement in requirements:
        match = re.match(
            r"\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)", requirement
        )
        if match:
            found.setdefault(match[1].lower(), match[2])
    return found


def _install(packages: Iterable[str], minimums: Mapping[str, str] | None = None) -> str:
    needs = minimum_versions() if minimums is None else minimums
    specs = [f"'{p}>={needs[p]}'" if p in needs else p for p in packages]
    return "pip install " + " ".join(specs)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


#: The lines of a failed job's text that say why (Spark wraps them in much else).
_CAUSE = re.compile(
    r"(Cannot run program[^\n]*|\[PYTHON_VERSION_MISMATCH\][^\n]*|"
    r"(?:ModuleNotFound|Import)Error: [^\n]*|No such file or directory[^\n]*)"
)


def _cause(exc: BaseException) -> str:
    match = _CAUSE.search(str(exc))
    return match[1].strip() if match else first_line(exc)


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
