"""Build an order-lines data set of about N lines for the benchmarks (issue 6).

The lines come from ``retcalc.sample.generate``, run in chunks of
``--chunk-customers`` customers (seed = ``--seed`` + chunk index) so that memory
stays bounded (``generate`` needs about 2.4 GB per million customers). Each
chunk's ``customer_id`` and ``order_id`` get a chunk prefix (``K0003-C000022``,
``K0003-O000001``) so ids never collide between chunks; a chunk is a shop of its
own over the same three years, so the data set is a bigger shop, not a longer one.
Lines per customer are about 3.5, so a data set of N lines has about N / 3.5
customers.

Written into ``--out DIR``:

- ``parquet/part-00000.parquet``, ... : one file per chunk (``retcalc`` reads the directory);
- ``orders.csv``: the same lines as one CSV (header once, chunks in order);
- ``customers.csv``: the customers of every chunk;
- ``manifest.json``: what was asked and what was written, written last.

When ``manifest.json`` says the same data set (lines, seed, chunk size) is
already there and its files exist, nothing is generated again.

Usage: ``.venv/bin/python bench/generate.py --lines 10M --out bench/data/10M [--jobs 2]``
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

LINES_PER_CUSTOMER = 3.5
CHUNK_CUSTOMERS = 300_000
SEED = 20_240_601
MANIFEST = "manifest.json"
FORMAT_VERSION = 1  # bump when the layout of the files changes


def parse_count(text: str) -> int:
    """``1M``, ``10M``, ``500k``, ``2.5M``, ``1000000`` as an int."""
    raw = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(raw[-1:], 1)
    number = raw[:-1] if scale != 1 else raw
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count such as 1M or 500k") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return round(value)


def size_label(lines: int) -> str:
    """10_000_000 -> '10M', 500_000 -> '500k'."""
    if lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines % 1_000 == 0:
        return f"{lines // 1_000}k"
    return str(lines)


def plan(lines: int, chunk_customers: int) -> list[int]:
    """Customers per chunk for about ``lines`` order lines."""
    total = max(1, round(lines / LINES_PER_CUSTOMER))
    n_chunks = math.ceil(total / chunk_customers)
    base, extra = divmod(total, n_chunks)  # chunks of nearly equal size
    return [base + (1 if i < extra else 0) for i in range(n_chunks)]


def _wanted(lines: int, seed: int, chunk_customers: int) -> dict[str, int]:
    return {
        "format_version": FORMAT_VERSION,
        "lines_requested": lines,
        "seed": seed,
        "chunk_customers": chunk_customers,
    }


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return loaded


def is_ready(out: Path, lines: int, seed: int, chunk_customers: int) -> bool:
    """True when ``out`` already holds this data set (manifest and files)."""
    manifest = read_manifest(out)
    if manifest is None:
        return False
    if any(manifest.get(k) != v for k, v in _wanted(lines, seed, chunk_customers).items()):
        return False
    parts = manifest.get("parquet_files")
    if not isinstance(parts, list):
        return False
    files = [out / "orders.csv", out / "customers.csv", *(out / "parquet" / p for p in parts)]
    return all(f.is_file() for f in files)


def _chunk(index: int, customers: int, seed: int, tmp: str) -> tuple[int, int, int]:
    """Generate chunk ``index`` and write its Parquet part and headerless CSV parts."""
    from retcalc.sample import generate  # imported in the worker

    data = generate(customers=customers, seed=seed + index)
    prefix = f"K{index:04d}-"
    orders = data.orders.with_columns(
        (pl.lit(prefix) + pl.col("customer_id")).alias("customer_id"),
        (pl.lit(prefix) + pl.col("order_id")).alias("order_id"),
    )
    people = data.customers.with_columns(
        (pl.lit(prefix) + pl.col("customer_id")).alias("customer_id")
    )
    folder = Path(tmp)
    orders.write_parquet(folder / "parquet" / f"part-{index:05d}.parquet")
    stamp, day = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"
    orders.write_csv(
        folder / f"orders-{index:05d}.csv",
        include_header=False,
        float_precision=2,
        datetime_format=stamp,
        date_format=day,
    )
    people.write_csv(
        folder / f"customers-{index:05d}.csv",
        include_header=False,
        float_precision=2,
        datetime_format=stamp,
        date_format=day,
    )
    return index, orders.height, people.height


def _header(columns: list[str]) -> bytes:
    return (",".join(columns) + "\n").encode()


def _concat(target: Path, header: bytes, parts: list[Path]) -> None:
    with target.open("wb") as out:
        out.write(header)
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 16 << 20)
            part.unlink()


def build(
    out: Path,
    lines: int,
    *,
    seed: int = SEED,
    chunk_customers: int = CHUNK_CUSTOMERS,
    jobs: int = 1,
    force: bool = False,
) -> dict[str, Any]:
    """Make sure ``out`` holds the data set of about ``lines`` lines; return its manifest."""
    if not force and is_ready(out, lines, seed, chunk_customers):
        ready = read_manifest(out)
        assert ready is not None
        return ready
    from retcalc import sample

    sizes = plan(lines, chunk_customers)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    tmp = out / ".building"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "parquet").mkdir(parents=True)
    started = time.perf_counter()
    print(
        f"generating about {lines:,} lines in {out}: {sum(sizes):,} customers in "
        f"{len(sizes)} chunks, {jobs} at a time",
        file=sys.stderr,
        flush=True,
    )
    n_lines = n_customers = 0
    # "spawn": a fork of a process whose Polars thread pool has run can deadlock.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
        futures = [pool.submit(_chunk, i, c, seed, str(tmp)) for i, c in enumerate(sizes)]
        for future in futures:
            index, got_lines, got_customers = future.result()
            n_lines += got_lines
            n_customers += got_customers
            print(
                f"  chunk {index + 1}/{len(sizes)}: {got_lines:,} lines "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    n = len(sizes)
    _concat(
        tmp / "orders.csv",
        _header(list(sample.ORDER_COLUMNS)),
        [tmp / f"orders-{i:05d}.csv" for i in range(n)],
    )
    _concat(
        tmp / "customers.csv",
        _header(list(sample.CUSTOMER_COLUMNS)),
        [tmp / f"customers-{i:05d}.csv" for i in range(n)],
    )
    shutil.rmtree(out / "parquet", ignore_errors=True)
    (tmp / "parquet").rename(out / "parquet")
    for name in ("orders.csv", "customers.csv"):
        os.replace(tmp / name, out / name)
    tmp.rmdir()
    parts = sorted(p.name for p in (out / "parquet").glob("*.parquet"))
    manifest: dict[str, Any] = {
        **_wanted(lines, seed, chunk_customers),
        "lines": n_lines,
        "customers": n_customers,
        "chunks": n,
        "parquet_files": parts,
        "parquet_bytes": sum((out / "parquet" / p).stat().st_size for p in parts),
        "csv_bytes": (out / "orders.csv").stat().st_size,
        "generator": "retcalc.sample.generate (start 2023-01-01, 3 years per chunk)",
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(
        f"  wrote {n_lines:,} lines, {n_customers:,} customers in {manifest['seconds']} s",
        file=sys.stderr,
    )
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=parse_count, required=True, help="about this many order lines (1M, 10M...)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chunk-customers", type=int, default=CHUNK_CUSTOMERS)
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="chunks generated at once"
    )
    parser.add_argument(
        "--force", action="store_true", help="generate even when the manifest matches"
    )
    args = parser.parse_args()
    manifest = build(
        args.out,
        args.lines,
        seed=args.seed,
        chunk_customers=args.chunk_customers,
        jobs=args.jobs,
        force=args.force,
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
