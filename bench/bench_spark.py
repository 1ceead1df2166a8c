"""Polars versus local Spark on the same order lines (issue 9).

For each command (retention, churn, cohorts) the table is computed twice, each
in a fresh process timed with ``/usr/bin/time -f "%e %M"`` (wall seconds, peak
RSS of the retcalc process; Spark's JVM is a child and is not counted):

- ``retcalc COMMAND DATA --format csv`` (the Polars engine);
- ``retcalc COMMAND DATA --format csv --engine spark --spark-master local[N]``.

Spark's time includes starting the JVM and its Python workers: on one machine
that fixed cost, plus moving rows through Arrow to Python workers, is what the
figure shows; Spark pays off when the data lives on a cluster. The two outputs
are compared byte for byte and the result is recorded.

The data is ``bench/generate.py``'s (not regenerated here): by default
``bench/data/10M/parquet``.

Usage: ``.venv/bin/python bench/bench_spark.py [--data DIR] [--master local[2]]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RETCALC = str(Path(sys.executable).with_name("retcalc"))
COMMANDS = ("retention", "churn", "cohorts")


def timed(argv: list[str], out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and stderr of one run (stdout to ``out``)."""
    stats = Path(tempfile.mktemp(suffix=".time"))
    with out.open("wb") as handle:
        done = subprocess.run(
            ["/usr/bin/time", "-o", str(stats), "-f", "%e %M", *argv],
            stdout=handle,
            stderr=subprocess.PIPE,
            check=False,
        )
    wall, rss = stats.read_text().split()[-2:]
    stats.unlink()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-2000:]}")
    return float(wall), int(rss) / 1024, done.stderr.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE / "data" / "10M" / "parquet"))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--results", default=str(HERE / "results-spark.md"))
    args = parser.parse_args()
    data = Path(args.data)
    manifest = data.parent / "manifest.json"
    lines = json.loads(manifest.read_text())["lines"] if manifest.is_file() else None
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    for command in COMMANDS:
        base = [RETCALC, command, str(data), "--format", "csv"]
        polars_out, spark_out = work / f"{command}.polars.csv", work / f"{command}.spark.csv"
        p_wall, p_rss, _ = timed(base, polars_out)
        s_wall, s_rss, s_err = timed(
            [*base, "--engine", "spark", "--spark-master", args.master], spark_out
        )
        same = polars_out.read_bytes() == spark_out.read_bytes()
        where = next((ln for ln in s_err.splitlines() if "computed on" in ln), "")
        rows.append((command, p_wall, p_rss, s_wall, s_rss, same, where))
        print(f"{command}: polars {p_wall:.1f}s, spark {s_wall:.1f}s, same={same}", flush=True)
    text = [
        "# Polars versus local Spark (`bench/bench_spark.py`)",
        "",
        f"{lines:,} order lines" if lines else str(data),
        f" ({data.name} of `bench/generate.py`), {dt.date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, Spark master `{args.master}`. "
        "Each run is a fresh `retcalc ... --format csv` process: Spark's time includes "
        "starting the JVM and the Python workers (the fixed cost); peak RSS is the retcalc "
        "process only (Spark's JVM is a child process).",
        "",
        "| command | Polars (s) | Polars RSS (MiB) | Spark (s) | driver RSS (MiB) | Spark / Polars | same output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for command, p_wall, p_rss, s_wall, s_rss, same, _ in rows:
        text.append(
            f"| {command} | {p_wall:.1f} | {p_rss:.0f} | {s_wall:.1f} | {s_rss:.0f} | "
            f"{s_wall / p_wall:.1f}x | {'yes' if same else 'NO'} |"
        )
    text += ["", f"stderr of the Spark runs: `{rows[0][6]}`", ""]
    Path(args.results).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
