"""Run retcalc commands in one process, so that Spark's driver starts once for all.

``python -m tests.spark.run_commands RESULTS.json`` reads a JSON list of steps on
stdin, ``{"args": [...], "env": {...}, "python": PATH}``, and writes each command's exit code,
stdout, stderr, seconds and two Spark settings to RESULTS.json (Spark may print on stdout). ``python``:
the running session's executors start this Python from now on (pyspark's
``SparkContext.pythonExec``), and retcalc probes them again: a second worker Python
without a second session.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    from typer.testing import CliRunner

    from retcalc.cli.app import app
    from retcalc.engines.spark.session import _STATES, active

    results = []
    for step in json.load(sys.stdin):
        if step.get("python"):
            active().sparkContext.pythonExec = step["python"]
            _STATES.clear()
        os.environ.update(step.get("env", {}))
        began = time.perf_counter()
        result = CliRunner().invoke(app, step["args"])
        running = active()
        settings = {
            key: running.conf.get(key, None) if running is not None else None
            for key in ("spark.driver.memory", "spark.sql.shuffle.partitions")
        }
        probes = [s.probe_seconds for s in _STATES.values() if s.probe_seconds is not None]
        results.append(
            {
                "exit_code": result.exit_code,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "exception": None if result.exception is None else repr(result.exception),
                "seconds": time.perf_counter() - began,
                "probe_seconds": probes[-1] if probes else None,
                "conf": settings,
            }
        )
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
