"""Time retcalc against hand-written DuckDB SQL and a bare Polars scan (issue 6).

For each size (``--sizes 1M,10M``) the data set is generated once with
``bench/generate.py`` (a directory of Parquet files and the same lines as one
CSV), then, in the same run and on the same files, every case below is timed
beside three references, each command in a fresh subprocess under
``/usr/bin/time -f "%e %M"`` (wall seconds, peak RSS):

- ``retcalc COMMAND DATA --format csv`` with standard output to /dev/null;
- the same table computed by ``bench/duckdb_queries.py`` (DuckDB SQL as an
  analyst would write it), written to /dev/null;
- the floor: Polars reading the columns retcalc needs (customer_id, order_date,
  amount, quantity, order_id, status) and touching every value (a sum, a max, or
  the byte length of each string), once per input kind;
- the core step (``pairs``): Polars counting the distinct (customer, day) pairs,
  the one step that retention, churn and cohorts all need, with none of the
  checks, cleaning or classification, once per input kind.

A command that runs longer than ``--timeout`` seconds is killed and recorded as
"timeout". On the first size (1M when given) the tables of retcalc and DuckDB are
also compared (counts exactly, money to a cent, rates to 1e-9) and the
differences are reported, not fixed.

The table is printed and written to ``--results`` (bench/results.md) with the
machine, the versions and the date.

Usage: ``.venv/bin/python bench/bench.py --sizes 1M,10M [--data bench/data] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # a sibling script, not a package

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
TIME = "/usr/bin/time"
COLUMNS = ("customer_id", "order_date", "amount", "quantity", "order_id", "status")

# The floor: read the needed columns and touch every value (argv: path, parquet|csv).
SCAN = """
import sys, polars as pl
path, kind = sys.argv[1], sys.argv[2]
cols = ["customer_id", "order_date", "amount", "quantity", "order_id", "status"]
lf = pl.scan_parquet(path + "/*.parquet") if kind == "parquet" else pl.scan_csv(path)
lf = lf.select(cols)
def touch(name, dtype):
    if dtype == pl.String:
        return pl.col(name).str.len_bytes().sum()
    if dtype.is_temporal():
        return pl.col(name).max()
    return pl.col(name).sum()
print(lf.select(touch(n, t) for n, t in lf.collect_schema().items()).collect())
"""

# The core step (argv as SCAN's): the distinct (customer, day) pairs, the least that
# retention, churn and cohorts all compute, by the fastest Polars query found: one
# 64-bit word per line (a hash of the id, its low 16 bits replaced by the day's
# number), counted. No cleaning, no checks, no statuses, no returns, no money.
PAIRS = """
import sys, polars as pl
path, kind = sys.argv[1], sys.argv[2]
lf = pl.scan_parquet(path + "/*.parquet") if kind == "parquet" else pl.scan_csv(path)
date = pl.col("order_date")
if lf.collect_schema()["order_date"] == pl.String:
    day = date.str.slice(0, 10).str.to_date("%Y-%m-%d")
else:
    day = date.dt.date()
low = pl.lit(0xFFFF, dtype=pl.UInt64)
word = (pl.col("customer_id").hash() & ~low) | (day.cast(pl.Int32).cast(pl.UInt64) & low)
print(lf.select(word.n_unique()).collect())
"""


@dataclass(frozen=True)
class Case:
    """One benchmark row: a retcalc command and the DuckDB query computing its table."""

    label: str
    args: tuple[str, ...]
    duck: str | None  # query name in duckdb_queries, None when SQL has no equivalent
    period: str = "month"
    window: str = "12mo"
    kind: str = "parquet"  # parquet | csv
    duck_max_lines: int | None = None  # run the DuckDB query only up to this size
    duck_note: str = ""

    def retcalc_args(self, data: Path) -> list[str]:
        return [*self.args[:1], str(source(data, self.kind)), *self.args[1:], "--format", "csv"]

    def duck_args(self, data: Path, memory_limit: str | None) -> list[str]:
        assert self.duck is not None
        cmd = [
            PYTHON,
            str(HERE / "duckdb_queries.py"),
            self.duck,
            str(source(data, self.kind)),
            "--period",
            self.period,
            "--window",
            self.window,
        ]
        return cmd + (["--memory-limit", memory_limit] if memory_limit else [])


DAY_NOTE = (
    "the range join emits one row per purchase day and boundary (365 per day here): "
    "at 1M lines it took 180 s and 18 GB, so it is run only with --duckdb-day"
)
WEEK_NOTE = "the range join emits 52 rows per purchase day; not run above 10M lines"
BGNBD_NOTE = "the model fits have no SQL equivalent"
RFM_NOTE = "no DuckDB query; the case is here for its peak memory (issue 32: under 4 GiB at 50M)"

CASES: tuple[Case, ...] = (
    Case("retention month 12mo", ("retention", "--period", "month"), "retention"),
    Case(
        "retention week 12mo",
        ("retention", "--period", "week"),
        "retention",
        period="week",
        duck_max_lines=10_000_000,
        duck_note=WEEK_NOTE,
    ),
    Case(
        "retention month 90d",
        ("retention", "--period", "month", "--active-window", "90d"),
        "retention",
        window="90d",
    ),
    Case(
        "retention day 12mo",
        ("retention", "--period", "day"),
        "retention",
        period="day",
        duck_max_lines=0,
        duck_note=DAY_NOTE,
    ),
    Case("churn month 12mo", ("churn", "--period", "month"), "churn"),
    Case("cohorts month", ("cohorts", "--period", "month"), "cohorts"),
    Case("returns month", ("returns", "--period", "month"), "rates"),
    Case("clv historical", ("clv", "--model", "historical"), "summary"),
    Case(
        "clv historical per-customer",
        ("clv", "--model", "historical", "--per-customer"),
        "customers",
    ),
    Case("clv bgnbd", ("clv", "--model", "bgnbd"), None, duck_note=BGNBD_NOTE),
    Case("rfm per-customer", ("rfm", "--per-customer"), None, duck_note=RFM_NOTE),
    Case("retention month 12mo", ("retention", "--period", "month"), "retention", kind="csv"),
)


def source(data: Path, kind: str) -> Path:
    return data / "parquet" if kind == "parquet" else data / "orders.csv"


@dataclass
class Measure:
    """One timed command: seconds and peak RSS, or why there are none."""

    seconds: float | None = None
    peak_kb: int | None = None
    cpu: float | None = None  # user + system seconds
    status: str = "ok"  # ok | timeout | memory | error | skipped
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def session_rss_kb(sid: int) -> int:
    """Resident memory of every process in session ``sid`` (the command and its children)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) != sid:  # field 6 of /proc/PID/stat: the session id
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def measure(cmd: list[str], timeout: float, max_rss_kb: int | None = None) -> Measure:
    """Run ``cmd`` under /usr/bin/time in its own session, stdout to /dev/null.

    The session is killed after ``timeout`` seconds, or as soon as its resident
    memory passes ``max_rss_kb`` (so that a run cannot push the machine out of memory).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        full = [TIME, "-f", "%e %M %U %S", "-o", timing.name, *cmd]
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                full,
                stdout=subprocess.DEVNULL,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )
            deadline = time.monotonic() + timeout
            killed = ""
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    killed = "timeout"
                elif max_rss_kb and session_rss_kb(proc.pid) > max_rss_kb:
                    killed = "memory"
                if killed:
                    os.killpg(proc.pid, signal.SIGKILL)  # the session we started, and only it
                    proc.wait()
                    break
                time.sleep(0.25)
            if killed == "timeout":
                return Measure(status="timeout", detail=f"> {timeout:.0f} s")
            if killed == "memory":
                return Measure(
                    status="memory", detail=f"killed above {(max_rss_kb or 0) / 1024**2:.1f} GB RSS"
                )
            err.seek(0)
            stderr = err.read()
        lines = [line for line in timing.read().splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        said = stderr.strip().splitlines()
        errors = [line for line in said if "error" in line.lower()]
        last = (errors or said)[-1:] or [f"exit {proc.returncode}"]
        return Measure(status="error", detail=last[0][:300])
    seconds, peak, user, system = lines[-1].split()
    return Measure(float(seconds), int(peak), float(user) + float(system))


def repeated(cmd: list[str], repeat: int, timeout: float, max_rss_kb: int | None = None) -> Measure:
    """Median seconds and largest peak over ``repeat`` runs (stops at the first failure)."""
    runs: list[Measure] = []
    for _ in range(repeat):
        m = measure(cmd, timeout, max_rss_kb)
        if not m.ok:
            return m
        runs.append(m)
    return Measure(
        statistics.median(m.seconds for m in runs if m.seconds is not None),
        max(m.peak_kb for m in runs if m.peak_kb is not None),
        statistics.median(m.cpu for m in runs if m.cpu is not None),
    )


@dataclass
class Row:
    case: Case
    size: str
    lines: int
    retcalc: Measure
    duckdb: Measure
    scan: Measure
    pairs: Measure
    notes: list[str] = field(default_factory=list)


def warm(data: Path, kinds: set[str]) -> None:
    """Read the files so that the next timed run starts with them in the page cache.

    Called before every timed command: a DuckDB query that takes most of the memory
    evicts the files from the cache, and reading 689 MB back from this machine's disk
    took 24 s, which would be charged to whichever command runs next."""
    files = sorted((data / "parquet").glob("*.parquet")) if "parquet" in kinds else []
    for path in [*files, *([data / "orders.csv"] if "csv" in kinds else [])]:
        with path.open("rb") as handle:
            while handle.read(16 << 20):
                pass


def retcalc_bin() -> str:
    beside = Path(PYTHON).parent / "retcalc"
    found = str(beside) if beside.exists() else shutil.which("retcalc")
    if not found:
        raise SystemExit("retcalc is not installed in this environment: run `make install`")
    return found


# --- correctness ---------------------------------------------------------------

COUNT_TOL = 0.0
MONEY_TOL = 0.005 + 1e-9  # money is printed to the cent
RATE_TOL = 1e-6  # rates and per-customer figures (retcalc rounds some to 6 decimals)
KEYS = {"cohorts": ["cohort", "offset"], "summary": [], "customers": ["customer_id"]}


PLAIN = ("rates", "customers")


def compare(query: str, ours: Path, theirs: Path) -> list[str]:
    """Differences between retcalc's table ``ours`` and DuckDB's ``theirs``, one line each.
    A plain query (``rates``, ``customers``) gives some of retcalc's columns: those are compared."""
    a = pl.read_csv(ours, infer_schema_length=None)
    b = pl.read_csv(theirs, infer_schema_length=None)
    problems: list[str] = []
    if query in PLAIN and set(b.columns) <= set(a.columns):
        a = a.select(b.columns)
    if a.columns != b.columns:
        problems.append(f"columns differ: retcalc {a.columns} vs duckdb {b.columns}")
    keys = KEYS.get(query, ["period_start"])
    if a.height != b.height:
        problems.append(f"rows: retcalc {a.height}, duckdb {b.height}")
    if keys:
        joined = a.join(b, on=keys, how="inner", suffix="__duck")
    else:
        joined = pl.concat([a, b.rename({c: f"{c}__duck" for c in b.columns})], how="horizontal")
    for col in a.columns:
        if col in keys or f"{col}__duck" not in joined.columns:
            continue
        x, y = joined[col], joined[f"{col}__duck"]
        if x.dtype.is_numeric() and y.dtype.is_numeric():
            xf, yf = x.cast(pl.Float64), y.cast(pl.Float64)
            nulls = int((xf.is_null() != yf.is_null()).sum())
            diff = (xf - yf).abs()
            biggest: float = yf.abs().max() or 0.0  # type: ignore[assignment]
            if x.dtype.is_integer() and y.dtype.is_integer():
                tol = COUNT_TOL
            elif "rate" in col or col in {"crr", "nrr", "grr", "retention", "quick_ratio"}:
                tol = RATE_TOL
            elif "per_customer" in col or col in {"aov", "mean_tenure_days"}:
                tol = RATE_TOL * max(1.0, biggest)
            else:
                tol = MONEY_TOL
            bad = joined.filter((diff > tol).fill_null(False))
            if nulls or bad.height:
                first = ""
                if bad.height:
                    row = bad.row(0, named=True)
                    where = ", ".join(f"{k}={row[k]}" for k in keys) or "total"
                    first = f"; e.g. {where}: retcalc {row[col]} vs duckdb {row[col + '__duck']}"
                problems.append(
                    f"{col}: {bad.height} rows differ (max {diff.max()!s}), "
                    f"{nulls} null mismatches{first}"
                )
        else:
            xs = x.cast(pl.String).fill_null("<null>").str.to_lowercase()
            ys = y.cast(pl.String).fill_null("<null>").str.to_lowercase()
            bad_count = int((xs != ys).sum())
            if bad_count:
                problems.append(f"{col}: {bad_count} rows differ")
    return problems


def check(data: Path, timeout: float, size: str) -> dict[str, list[str]]:
    """Compare every (retcalc, DuckDB) pair of tables on ``data``."""
    found: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if case.duck is None or case.duck_max_lines == 0:
                continue
            name = f"{case.label} ({case.kind})"
            ours, theirs = Path(tmp, "retcalc.csv"), Path(tmp, "duckdb.csv")
            with ours.open("w") as out:
                done = subprocess.run(
                    [retcalc_bin(), *case.retcalc_args(data)],
                    stdout=out,
                    stderr=subprocess.PIPE,
                    text=True,
                    timeout=timeout,
                    cwd=ROOT,
                )
            if done.returncode != 0:
                found[name] = [f"retcalc failed: {done.stderr.strip()[-200:]}"]
                continue
            subprocess.run(
                [*case.duck_args(data, None), "--out", str(theirs)],
                check=True,
                timeout=timeout,
                cwd=ROOT,
            )
            found[name] = compare(case.duck, ours, theirs)
            verdict = "same table" if not found[name] else "; ".join(found[name])
            print(f"  check {size} {name}: {verdict}", file=sys.stderr, flush=True)
    return found


# --- report --------------------------------------------------------------------


def fmt_s(m: Measure) -> str:
    if m.status == "ok" and m.seconds is not None:
        return f"{m.seconds:.1f}" if m.seconds >= 10 else f"{m.seconds:.2f}"
    return {"timeout": "timeout", "memory": "OOM", "error": "error", "skipped": "—"}[m.status]


def fmt_mb(m: Measure) -> str:
    return f"{m.peak_kb / 1024:,.0f}" if m.ok and m.peak_kb is not None else "—"


def fmt_ratio(a: Measure, b: Measure) -> str:
    if a.ok and b.ok and a.seconds is not None and b.seconds:
        return f"{a.seconds / b.seconds:.2f}"
    return "—"


HEADER = (
    "command",
    "input",
    "size",
    "retcalc s",
    "duckdb s",
    "scan s",
    "pairs s",
    "retcalc/duckdb",
    "retcalc/scan",
    "retcalc/pairs",
    "retcalc MB",
    "duckdb MB",
)


def cells(row: Row) -> list[str]:
    return [
        row.case.label,
        row.case.kind,
        row.size,
        fmt_s(row.retcalc),
        fmt_s(row.duckdb),
        fmt_s(row.scan),
        fmt_s(row.pairs),
        fmt_ratio(row.retcalc, row.duckdb),
        fmt_ratio(row.retcalc, row.scan),
        fmt_ratio(row.retcalc, row.pairs),
        fmt_mb(row.retcalc),
        fmt_mb(row.duckdb),
    ]


def text_table(rows: list[Row]) -> str:
    body = [list(HEADER), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    out = []
    for n, line in enumerate(body):
        out.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def fmt_cpu(m: Measure) -> str:
    return f"{m.cpu:.1f}" if m.ok and m.cpu is not None else "—"


def cpu_table(rows: list[Row]) -> str:
    lines = [
        "| command | input | size | retcalc cpu s | duckdb cpu s | scan cpu s | pairs cpu s "
        "| retcalc/duckdb (cpu) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "—"
        if r.retcalc.ok and r.duckdb.ok and r.retcalc.cpu is not None and r.duckdb.cpu:
            ratio = f"{r.retcalc.cpu / r.duckdb.cpu:.2f}"
        lines.append(
            f"| {r.case.label} | {r.case.kind} | {r.size} | {fmt_cpu(r.retcalc)} | "
            f"{fmt_cpu(r.duckdb)} | {fmt_cpu(r.scan)} | {fmt_cpu(r.pairs)} | {ratio} |"
        )
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 9) + "|"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    import duckdb

    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        # The results files are left out: a run rewrites them before it asks.
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results*.md"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    from retcalc import __version__

    return {
        "cpu": f"{os.cpu_count()} cores ({cpu})" if cpu else f"{os.cpu_count()} cores",
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "retcalc": f"{__version__} (git {commit}{', uncommitted changes' if dirty else ''})",
    }


STARTUP_SECTION = "## Start-up"


def write_results(
    path: Path,
    rows: list[Row],
    datasets: dict[str, dict[str, Any]],
    checks: dict[str, dict[str, list[str]]],
    args: argparse.Namespace,
    started: dt.datetime,
    loads: list[float],
    startup: Measure,
) -> None:
    info = machine()
    if loads:
        info["load average (1 min) before each command"] = f"{min(loads):.1f} to {max(loads):.1f}"
    out = [
        "# Benchmark results",
        "",
        f"Written by `bench/bench.py --sizes {args.sizes} --repeat {args.repeat}` on "
        f"{started:%Y-%m-%d %H:%M} (local time); see bench/README.md for what is measured.",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        "Data sets (`bench/generate.py`, `retcalc.sample.generate` in chunks of "
        f"{generate.CHUNK_CUSTOMERS:,} customers):",
        "",
        "| size | order lines | customers | Parquet files | Parquet MB | CSV MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size, m in datasets.items():
        out.append(
            f"| {size} | {m['lines']:,} | {m['customers']:,} | {m['chunks']} | "
            f"{int(m['parquet_bytes']) / 1e6:,.0f} | {int(m['csv_bytes']) / 1e6:,.0f} |"
        )
    out += [
        "",
        "Wall seconds (median of the repeats) and peak RSS of a fresh process per command; "
        "`scan` is the floor (Polars reading the six needed columns of the same input and "
        "touching every value); `pairs` is the core step (Polars counting the distinct "
        "(customer, day) pairs, which retention, churn and cohorts all need, with no checks, "
        "cleaning or classification); `—`: not run (see the notes).",
        "",
        markdown_table(rows),
        "",
        "CPU seconds (user + system, all threads) of the same runs; less sensitive than wall "
        "time to other work on the machine:",
        "",
        cpu_table(rows),
        "",
        "Notes:",
        "",
    ]
    seen: set[str] = set()
    for row in rows:
        for note in row.notes:
            if note not in seen:
                seen.add(note)
                out.append(f"- {note}")
    if startup.ok:
        out.append(
            f"- Start-up alone: `retcalc --help` takes {fmt_s(startup)} s wall, "
            f"{fmt_cpu(startup)} s CPU, {fmt_mb(startup)} MB (imports); the scan and DuckDB "
            "processes start in about 0.2 s."
        )
    if args.duckdb_memory_limit:
        out.append(
            f"- DuckDB ran with `SET memory_limit = '{args.duckdb_memory_limit}'` (it spills to a "
            "temporary directory above it)."
        )
    if args.max_rss:
        out.append(
            f"- Every command was killed (OOM in the table) if its processes passed "
            f"{args.max_rss:g} GB of resident memory, to protect the shared machine."
        )
    out.append(
        "- `clv historical` is compared with a DuckDB query of the per-customer summary "
        "(orders, net revenue, first and last purchase) and its totals; `clv historical "
        "per-customer` with the plain per-customer query (`customers`: orders, net revenue, "
        "first and last purchase per customer, sorted), and `returns month` with the plain "
        "query of the three rates per month (`rates`), both in bench/duckdb_queries.py."
    )
    for size, found in checks.items():
        out += ["", f"Correctness at {size} (retcalc's table against DuckDB's, same files):", ""]
        for name, problems in found.items():
            out.append(f"- {name}: " + ("same table" if not problems else "; ".join(problems)))
    # bench/startup.py's section (`make bench-startup`) is its own: kept as it was.
    previous = path.read_text().splitlines() if path.exists() else []
    if STARTUP_SECTION in previous:
        start = previous.index(STARTUP_SECTION)
        end = next(
            (i for i in range(start + 1, len(previous)) if previous[i].startswith("## ")),
            len(previous),
        )
        out += ["", *previous[start:end]]
    path.write_text("\n".join(out).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated line counts: 1M,10M,50M")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per command")
    parser.add_argument(
        "--only", help="run only the cases whose label contains this text (comma: any of several)"
    )
    parser.add_argument(
        "--kind", choices=("parquet", "csv"), help="run only the cases on this input kind"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the correctness check")
    parser.add_argument(
        "--no-duckdb",
        action="store_true",
        help="time retcalc and the scan only (for sizes where the DuckDB queries take hours)",
    )
    parser.add_argument(
        "--duckdb-day", action="store_true", help="also run the DuckDB day-period query (1M only)"
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default=None,
        help="DuckDB memory_limit for its queries (default: DuckDB's, 80%% of RAM)",
    )
    parser.add_argument(
        "--max-rss",
        type=float,
        default=16,
        help="GB: kill a command whose processes use more resident memory (0: no limit)",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="for generation")
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    started = dt.datetime.now()
    sizes = [generate.parse_count(s) for s in args.sizes.split(",") if s.strip()]
    wanted = [w.strip() for w in (args.only or "").split(",") if w.strip()]
    cases = [c for c in CASES if not wanted or any(w in c.label for w in wanted)]
    cases = [c for c in cases if args.kind is None or c.kind == args.kind]
    binary = retcalc_bin()

    rows: list[Row] = []
    datasets: dict[str, dict[str, Any]] = {}
    checks: dict[str, dict[str, list[str]]] = {}
    loads: list[float] = []
    startup = repeated([binary, "--help"], 3, args.timeout)
    cap = int(args.max_rss * 1024**2) or None
    for n, lines in enumerate(sizes):
        size = generate.size_label(lines)
        data = args.data / size
        datasets[size] = generate.build(data, lines, jobs=args.jobs)
        warm(data, {c.kind for c in cases})
        if n == 0 and not args.no_check:
            checks[size] = check(data, args.timeout, size)
        scans: dict[str, Measure] = {}
        pairs: dict[str, Measure] = {}
        for case in cases:
            if case.kind not in scans:
                for script, found in ((SCAN, scans), (PAIRS, pairs)):
                    warm(data, {case.kind})
                    found[case.kind] = repeated(
                        [PYTHON, "-c", script, str(source(data, case.kind)), case.kind],
                        args.repeat,
                        args.timeout,
                        cap,
                    )
            t0 = time.perf_counter()
            loads.append(os.getloadavg()[0])
            warm(data, {case.kind})
            ours = repeated([binary, *case.retcalc_args(data)], args.repeat, args.timeout, cap)
            notes: list[str] = []
            limit = case.duck_max_lines
            if case.period == "day" and args.duckdb_day:
                limit = 1_000_000
            if args.no_duckdb:
                theirs = Measure(status="skipped")
                notes.append(f"{case.label} at {size}: DuckDB not run (--no-duckdb).")
            elif case.duck is None:
                theirs = Measure(status="skipped")
                notes.append(f"{case.label}: no DuckDB time, {case.duck_note}.")
            elif limit is not None and lines > limit:
                theirs = Measure(status="skipped")
                notes.append(f"{case.label}: DuckDB {case.duck_note}.")
            else:
                warm(data, {case.kind})
                theirs = repeated(
                    case.duck_args(data, args.duckdb_memory_limit), args.repeat, args.timeout, cap
                )
            for who, m in (("retcalc", ours), ("duckdb", theirs)):
                if m.status in ("error", "timeout", "memory"):
                    notes.append(f"{case.label} at {size}: {who} {m.status} ({m.detail}).")
            row = Row(
                case,
                size,
                int(datasets[size]["lines"]),
                ours,
                theirs,
                scans[case.kind],
                pairs[case.kind],
                notes,
            )
            rows.append(row)
            print(
                "  " + " | ".join(cells(row)) + f"   ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        # Keep what was measured so far even if a later size fails.
        write_results(args.results, rows, datasets, checks, args, started, loads, startup)
        raw = args.data / "last-run.json"
        raw.write_text(
            json.dumps(
                [
                    {
                        "case": r.case.label,
                        "input": r.case.kind,
                        "size": r.size,
                        **{
                            f"{who}_{k}": getattr(m, k)
                            for who, m in (
                                ("retcalc", r.retcalc),
                                ("duckdb", r.duckdb),
                                ("scan", r.scan),
                                ("pairs", r.pairs),
                            )
                            for k in ("seconds", "peak_kb", "cpu", "status")
                        },
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
    print(text_table(rows))
    print(f"\nwritten to {args.results}")


if __name__ == "__main__":
    main()
