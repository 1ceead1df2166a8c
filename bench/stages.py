"""Time a retcalc command by stage: every Polars collect, by the retcalc code that asked for it.

Runs ``retcalc ARGS...`` in this process with ``LazyFrame.collect`` (and the eager
operations that go through it, and the sinks) wrapped: each call's wall seconds and
the peak resident memory after it (``VmHWM``) are added to the retcalc function that
called it (the innermost three frames in ``retcalc/``). At exit it prints, on
stderr, the total, the time inside collects, and the 25 costliest stages; the rest
of the total is start-up (imports), Python work between collects and writing.

Usage: ``.venv/bin/python bench/stages.py returns DATA --period month --format csv > /dev/null``
"""

from __future__ import annotations

import atexit
import collections
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import polars as pl

WRAPPED = ("collect", "_collect_eager", "sink_csv", "sink_parquet", "collect_batches")
spent: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
started = time.perf_counter()


def peak_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return 0.0


def caller() -> str:
    frames = [f for f in traceback.extract_stack()[:-2] if "/retcalc/" in f.filename]
    return " < ".join(
        f"{f.filename.split('/retcalc/')[-1]}:{f.lineno}:{f.name}" for f in frames[-3:][::-1]
    )


def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            stage = spent[f"{name} @ {caller()}"]
            stage[0] += 1
            stage[1] += time.perf_counter() - began
            stage[2] = max(stage[2], peak_mib())

    return wrapper


@atexit.register
def report() -> None:
    total = time.perf_counter() - started
    inside = sum(s[1] for s in spent.values())
    print(
        f"total {total:.2f} s; in collects {inside:.2f} s; peak {peak_mib():,.0f} MiB",
        file=sys.stderr,
    )
    print(f"{'seconds':>8} {'calls':>5} {'peak MiB':>9}  stage", file=sys.stderr)
    for where, (calls, seconds, peak) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"{seconds:8.3f} {calls:5.0f} {peak:9,.0f}  {where}", file=sys.stderr)


def main() -> None:
    for name in WRAPPED:
        if hasattr(pl.LazyFrame, name):
            setattr(pl.LazyFrame, name, timed(name, getattr(pl.LazyFrame, name)))
    from retcalc.cli.entry import main as retcalc

    sys.argv = ["retcalc", *sys.argv[1:]]
    retcalc()


if __name__ == "__main__":
    main()
