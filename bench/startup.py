"""Start-up of small runs against their floors (issue 28, item 6).

Two pairs, each command a fresh subprocess, the two of a pair run alternately
``--repeat`` times (so that other work on a shared machine falls on both),
wall time from just before the start to the end of the process and its CPU time
(user + system), medians of the runs:

- ``retcalc --help`` against a bare ``python -c "import typer"`` (target: 2x);
- ``retcalc retention sample_data/orders.csv`` (CSV to a pipe) against
  ``python -c "import polars as pl; pl.read_csv('sample_data/orders.csv')"``
  (target: 2x);
- for reference, the help of a Typer app of one command and one option against
  the same bare ``import typer``: the least any Typer help costs.

``retcalc`` is the console script beside this interpreter when there is one (as
``make`` installs it), else ``python -m retcalc``. The figures and both ratios are
printed; ``--write`` also puts them in bench/results.md under ``## Start-up``
(replacing that section, keeping the rest of the file).

Usage: ``.venv/bin/python bench/startup.py [--repeat 15] [--write]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = "sample_data/orders.csv"
SECTION = "## Start-up"


def retcalc() -> list[str]:
    script = Path(sys.executable).parent / "retcalc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "retcalc"]


#: The least any Typer command's help costs: one command, one option (for reference).
MINIMAL_TYPER_APP = (
    "import typer\n"
    "app = typer.Typer(add_completion=False)\n"
    "@app.command()\n"
    "def main(x: int = 1) -> None: ...\n"
    "app(['--help'])\n"
)

PAIRS: list[tuple[str, list[str], str, list[str]]] = [
    (
        "retcalc --help",
        [*retcalc(), "--help"],
        "import typer",
        [sys.executable, "-c", "import typer"],
    ),
    (
        f"retcalc retention {SAMPLE}",
        [*retcalc(), "retention", SAMPLE],
        f"pl.read_csv({SAMPLE})",
        [sys.executable, "-c", f"import polars as pl; pl.read_csv({SAMPLE!r})"],
    ),
    (
        "a one-option Typer app's --help (reference)",
        [sys.executable, "-c", MINIMAL_TYPER_APP],
        "import typer",
        [sys.executable, "-c", "import typer"],
    ),
]


def run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``command``, its output thrown away; it
    must succeed. CPU time depends less on the other work of a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


Found = tuple[str, tuple[float, float], str, tuple[float, float]]


def measure(repeat: int) -> list[Found]:
    """Per pair: the command, its median wall and CPU seconds, the floor, its medians
    (after one warm-up run each)."""
    found = []
    for name, command, floor_name, floor in PAIRS:
        run(command), run(floor)  # warm the file cache and the bytecode
        ours, theirs = [], []
        for _ in range(repeat):
            ours.append(run(command))
            theirs.append(run(floor))
        found.append((name, medians(ours), floor_name, medians(theirs)))
    return found


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def table(found: list[Found]) -> str:
    lines = [
        "| command | wall s | CPU s | floor | wall s | CPU s | wall ratio | CPU ratio |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name, (wall, cpu), floor_name, (floor_wall, floor_cpu) in found:
        lines.append(
            f"| `{name}` | {wall:.3f} | {cpu:.3f} | `{floor_name}` | {floor_wall:.3f} | "
            f"{floor_cpu:.3f} | {wall / floor_wall:.2f} | {cpu / floor_cpu:.2f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {platform.platform()}, python {platform.python_version()}, "
        f"load average (1 min) {load:.1f} at the start"
    )


def write_section(path: Path, body: str) -> None:
    """Replace the ``## Start-up`` section of ``path`` (to the next ``## `` or the end)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    if SECTION in lines:
        start = lines.index(SECTION)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = body.splitlines() + ([""] if end < len(lines) else [])
    else:
        lines += ["", *body.splitlines()]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="update bench/results.md")
    args = parser.parse_args()
    found = measure(args.repeat)
    print(table(found))
    for name, (wall, cpu), floor_name, (floor_wall, floor_cpu) in found[:2]:
        print(
            f"{name} / {floor_name}: {wall / floor_wall:.2f}x wall, {cpu / floor_cpu:.2f}x CPU "
            "(target 2x)"
        )
    if args.write:
        body = "\n".join(
            [
                SECTION,
                "",
                f"Written by `bench/startup.py --repeat {args.repeat}` on "
                f"{dt.datetime.now():%Y-%m-%d %H:%M}; each pair run alternately, "
                "fresh processes, median wall and CPU (user + system) seconds.",
                "",
                f"Machine: {machine()}.",
                "",
                table(found),
            ]
        )
        write_section(HERE / "results.md", body)
        print(f"written to {HERE / 'results.md'} ({SECTION})")


if __name__ == "__main__":
    main()
