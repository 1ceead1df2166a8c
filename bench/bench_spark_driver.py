"""What reaches the Spark driver as the input grows (issue 29, SPEC §8).

For each data set and command, one fresh process runs ``retcalc COMMAND DATA
--engine spark`` and reports:

- the driver's Python peak RSS (``ru_maxrss`` of the process itself);
- the driver JVM's peak RSS (``VmHWM`` of the ``java`` process pyspark starts under
  it, read every 0.2 s while it runs); in ``local[N]`` that JVM runs the executors too,
  so the figure means the driver's alone only with ``--cluster``;
- the rows and bytes of Arrow data the driver collected from the metric's job
  (``retcalc.engines.spark.partials.collected``: the partial sums of the cells; "–"
  for a command that still collects its rows, which are not counted there);

and the wall time. The output is compared byte for byte with the Polars engine's.

``--cluster``: a standalone master and one worker on 127.0.0.1 (``tests/spark/
cluster.py``, the cluster of the tests) whose Python cannot import retcalc, so that the
shipped code runs there; the driver's settings come from the cluster's
spark-defaults.conf (``--driver-memory``, ``--executor-memory``), as on a real cluster.

Usage: ``.venv/bin/python bench/bench_spark_driver.py DATA_DIR [DATA_DIR ...]
[--master local[2] | --cluster] [--commands retention,churn] [--results FILE]`` where
each DATA_DIR is a ``bench/generate.py`` output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The commands that run on the executors, and kpis: it still collects its summed rows
#: (one per customer, day and order) and runs on the driver, the reference.
COMMANDS = ("retention", "cohorts", "churn", "kpis")

#: Runs retcalc in this process, then writes what the driver held, as JSON, to the file
#: named by RETCALC_PROBE_OUT.
PROBE = """
import json, os, resource, sys
from retcalc.cli.entry import main
sys.argv = ["retcalc", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code or 0
from retcalc.engines.spark import partials
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open(os.environ["RETCALC_PROBE_OUT"], "w") as out:
    json.dump({"code": code, "peak_mib": peak, **partials.collected}, out)
"""


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def _jvm_peak(pid: int) -> float:
    """The largest ``VmHWM`` (MiB) among the ``java`` processes below ``pid``."""
    peak, todo = 0.0, _children(pid)
    while todo:
        child = todo.pop()
        todo += _children(child)
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() != "java":
                continue
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def run(argv: list[str], out: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    probe = out.with_suffix(".probe.json")
    started = time.perf_counter()
    jvm = 0.0
    with out.open("wb") as handle, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", PROBE, *argv],
            stdout=handle,
            stderr=errors,
            env={**(env or os.environ), "RETCALC_PROBE_OUT": str(probe)},
        )
        try:
            while process.poll() is None:
                jvm = max(jvm, _jvm_peak(process.pid))
                time.sleep(0.2)
        finally:  # stopped (SIGTERM, Ctrl-C): the run in progress stops too
            if process.poll() is None:
                process.kill()
                process.wait()
        wall = time.perf_counter() - started
        errors.seek(0)
        if process.returncode != 0 or not probe.is_file():
            raise SystemExit(f"{' '.join(argv)} failed:\n{errors.read().decode()[-2000:]}")
    return {"wall": wall, "jvm_mib": jvm, **json.loads(probe.read_text())}


@contextmanager
def cluster(driver_memory: str, executor_memory: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A standalone master and one worker whose Python lacks retcalc; yields its URL and
    the driver's environment (the cluster's spark-defaults.conf). Stopped on the way out."""
    sys.path.insert(0, str(ROOT))
    from tests.spark.cluster import Cluster, base_env, worker_python

    with tempfile.TemporaryDirectory(prefix="retcalc-bench-cluster-") as folder:
        directory = Path(folder)
        running = Cluster(directory, base_env(directory))
        try:
            running.start(cores=2, memory=executor_memory)
            conf = Path(running.env["SPARK_CONF_DIR"]) / "spark-defaults.conf"
            conf.write_text(
                f"spark.pyspark.python {worker_python(directory)}\n"
                f"spark.executor.memory {executor_memory}\n"
                f"spark.driver.memory {driver_memory}\n"
            )
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("SPARK_REMOTE", "PYSPARK_PYTHON", "SPARK_HOME")
                and not k.startswith("PYSPARK_")
            }
            env.update(SPARK_CONF_DIR=str(conf.parent), SPARK_LOCAL_IP="127.0.0.1")
            yield running.master_url, env
        finally:
            running.stop()


def _count(n: float) -> str:
    """A count with thousands separators; "–" for none collected (not run on executors)."""
    return f"{int(n):,}" if n else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--cluster", action="store_true", help="a standalone cluster here")
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument("--executor-memory", default="8g")
    parser.add_argument("--results", default=str(HERE / "results-spark-driver.md"))
    parser.add_argument("--commands", default=",".join(COMMANDS))
    args = parser.parse_args()
    # A kill stops the cluster too (the ``finally`` of ``cluster``), as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.cluster:
        with cluster(args.driver_memory, args.executor_memory) as (master, env):
            rows = _measure(args.data, args.commands.split(","), master, env)
        where = (
            f"a standalone cluster on 127.0.0.1 (`tests/spark/cluster.py`: master and one "
            f"worker, 2 cores, executor memory {args.executor_memory}, driver memory "
            f"{args.driver_memory}; the worker's Python cannot import retcalc)"
        )
    else:
        rows = _measure(args.data, args.commands.split(","), args.master, None)
        where = f"Spark master `{args.master}` (the JVM runs the executors too)"
    load = os.getloadavg()
    text = [
        "# What reaches the Spark driver (`bench/bench_spark_driver.py`)",
        "",
        f"{dt.date.today()}, {platform.machine()} with {os.cpu_count()} cores, {where}, "
        f"load average {load[0]:.1f} at the end. Parquet data of `bench/generate.py`. Each "
        "run is a fresh process; the driver's Python peak RSS is the process's own "
        "`ru_maxrss`, the JVM's the `VmHWM` of the `java` process under it; collected = the "
        "Arrow rows and bytes of the metric job's result.",
        "",
        "| lines | command | wall (s) | driver Python peak (MiB) | driver JVM peak (MiB) "
        "| collected rows | collected bytes | same output |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for lines, command, f, same in rows:
        text.append(
            f"| {lines:,} | {command} | {f['wall']:.1f} | {f['peak_mib']:.0f} | "
            f"{f['jvm_mib']:.0f} | {_count(f['rows'])} | {_count(f['bytes'])} | "
            f"{'yes' if same else 'NO'} |"
        )
    Path(args.results).write_text("\n".join(text) + "\n")
    print(f"wrote {args.results}")


def _measure(
    data: list[str], commands: list[str], master: str, env: dict[str, str] | None
) -> list[tuple[int, str, dict[str, float], bool]]:
    rows = []
    for folder in map(Path, data):
        lines = json.loads((folder / "manifest.json").read_text())["lines"]
        source = str(folder / "parquet")
        for command in commands:
            polars_out = Path(f"/tmp/driver-{command}-{lines}.polars.csv")
            spark_out = Path(f"/tmp/driver-{command}-{lines}.spark.csv")
            base = [command, source, "--format", "csv"]
            run(base, polars_out)
            spark = [*base, "--engine", "spark", "--spark-master", master]
            figures = run(spark, spark_out, env)
            same = polars_out.read_bytes() == spark_out.read_bytes()
            rows.append((lines, command, figures, same))
            print(f"{lines:,} {command}: {figures} same={same}", flush=True)
    return rows


if __name__ == "__main__":
    main()
