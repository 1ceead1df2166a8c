"""What reaches the Spark driver as the input grows (issue 29, SPEC §8).

For each data set and command, one fresh process runs ``retcalc COMMAND DATA
--engine spark`` and reports, from inside that process:

- the driver's Python peak RSS (``ru_maxrss`` of the process itself; the JVM is
  another process);
- the rows and bytes of Arrow data the driver collected from the metric's job
  (``retcalc.engines.spark.partials.collected``: the partial sums of the cells);

and the wall time. The output is compared byte for byte with the Polars engine's.
Commands that run on the executors (retention, churn, cohorts) should show collected
rows that do not grow with the lines, and a flat driver; kpis, which still collects its
summed rows to the driver (not counted in ``collected``: "–"), is the reference.

Usage: ``.venv/bin/python bench/bench_spark_driver.py DATA_DIR [DATA_DIR ...]
[--master local[2]] [--results bench/results-spark-driver.md]`` where each DATA_DIR
is a ``bench/generate.py`` output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def run(argv: list[str], out: Path) -> dict[str, float]:
    probe = out.with_suffix(".probe.json")
    started = time.perf_counter()
    with out.open("wb") as handle:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *argv],
            stdout=handle,
            stderr=subprocess.PIPE,
            env={**os.environ, "RETCALC_PROBE_OUT": str(probe)},
            check=False,
        )
    wall = time.perf_counter() - started
    if done.returncode != 0 or not probe.is_file():
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-2000:]}")
    return {"wall": wall, **json.loads(probe.read_text())}


def _count(n: float) -> str:
    """A count with thousands separators; "–" for none collected (not run on executors)."""
    return f"{int(n):,}" if n else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--results", default=str(HERE / "results-spark-driver.md"))
    parser.add_argument("--commands", default=",".join(COMMANDS))
    args = parser.parse_args()
    rows = []
    for folder in map(Path, args.data):
        lines = json.loads((folder / "manifest.json").read_text())["lines"]
        source = str(folder / "parquet")
        for command in args.commands.split(","):
            polars_out = Path(f"/tmp/driver-{command}-{lines}.polars.csv")
            spark_out = Path(f"/tmp/driver-{command}-{lines}.spark.csv")
            base = [command, source, "--format", "csv"]
            run(base, polars_out)
            figures = run([*base, "--engine", "spark", "--spark-master", args.master], spark_out)
            same = polars_out.read_bytes() == spark_out.read_bytes()
            rows.append((lines, command, figures, same))
            print(f"{lines:,} {command}: {figures} same={same}", flush=True)
    load = os.getloadavg()
    text = [
        "# What reaches the Spark driver (`bench/bench_spark_driver.py`)",
        "",
        f"{dt.date.today()}, {platform.machine()} with {os.cpu_count()} cores, Spark master "
        f"`{args.master}`, load average {load[0]:.1f} at the end. Parquet data of "
        "`bench/generate.py`. Each run is a fresh process; the driver's Python peak RSS is "
        "the process's own `ru_maxrss` (the JVM is another process and not counted); "
        "collected = the Arrow rows and bytes of the metric job's result.",
        "",
        "| lines | command | wall (s) | driver Python peak (MiB) | collected rows | collected bytes | same output |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for lines, command, f, same in rows:
        text.append(
            f"| {lines:,} | {command} | {f['wall']:.1f} | {f['peak_mib']:.0f} | "
            f"{_count(f['rows'])} | {_count(f['bytes'])} | {'yes' if same else 'NO'} |"
        )
    Path(args.results).write_text("\n".join(text) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
