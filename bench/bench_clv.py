"""Time the BG/NBD + Gamma-Gamma fit and scoring of ``retcalc clv --model bgnbd``.

Three workloads:

1. *model*: a per-customer summary of N customers (default 1,000,000) drawn
   with numpy from a BG/NBD process and a Gamma-Gamma spend with known
   parameters (the CDNOW estimates); times the fits and the scoring (p_alive,
   expected purchases and a 12-month discounted CLV) and shows the recovered
   parameters next to the true ones.
2. *pipeline*: orders of M customers from ``retcalc.sample.generate`` (lines,
   returns, cancellations); times the Polars summary, the fits and the scoring.

3. *end to end* (``--end-to-end DIR``, a directory of order lines as bench/generate.py
   writes them, e.g. /tmp/bench2M/parquet): ``retcalc clv DIR --model bgnbd
   --per-customer --output OUT.csv`` against the same job written with lifetimes 0.11
   as an analyst would (:func:`lifetimes_job`), each in a fresh process under
   /usr/bin/time (wall time and peak RSS), alternating, and the ratio retcalc/lifetimes.

Usage: ``.venv/bin/python bench/bench_clv.py [--customers N] [--orders-customers M] [--seed S]``
(``--orders-customers 0`` skips the pipeline);
``.venv/bin/python bench/bench_clv.py --end-to-end DIR [--rounds R]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

if "--lifetimes-job" not in sys.argv:  # the lifetimes job imports pandas and lifetimes only
    import numpy as np
    import polars as pl

    from retcalc.metrics.clv import DAYS_PER_YEAR, bgnbd, fit_models, gamma_gamma, score
    from retcalc.metrics.clv.summary import RfmSummary, TimeUnit, rfm_summary
    from retcalc.sample import generate

T = TypeVar("T")
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # per week (CDNOW)
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def timed(label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<38} {time.perf_counter() - start:7.2f} s", flush=True)
    return out


def simulate(n: int, seed: int) -> RfmSummary:
    """A BG/NBD customer base observed for up to 78 weeks, summarised in weeks.

    Ages and purchase times are whole days (as a summary of dated orders is),
    expressed in weeks.
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = TRUE_BG.values()
    age = rng.integers(7, 78 * 7, n, endpoint=True) / 7.0  # T: weeks since the first purchase
    rate = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    max_repeats = rng.geometric(dropout)  # drops out right after this repeat purchase
    events = rng.poisson(rate * age)
    x = np.minimum(events, max_repeats)
    recency = np.zeros(n)
    repeat = x > 0
    # the x-th of `events` uniform purchase times in [0, T]
    position = rng.beta(x[repeat], events[repeat] - x[repeat] + 1)
    recency[repeat] = np.floor(age[repeat] * 7 * position) / 7.0
    p, q, v = TRUE_GG.values()
    nu = rng.gamma(q, 1.0 / v, n)
    spend = np.zeros(n)
    spend[repeat] = rng.gamma(p * x[repeat], 1.0 / (nu[repeat] * x[repeat]))
    frame = pl.DataFrame(
        {
            "customer_id": pl.int_range(0, n, eager=True).cast(pl.String),
            "frequency": x.astype(np.int64),
            "recency": recency,
            "T": age,
            "monetary_value": spend,
        }
    )
    return RfmSummary(frame, dt.date(2025, 12, 31), TimeUnit.week)


def model_workload(n: int, seed: int) -> None:
    print(f"model: {n:,} simulated customers (summary in weeks)")
    summary = timed("simulate the summary (numpy)", lambda: simulate(n, seed))
    repeat = int((summary.frame["frequency"] > 0).sum())
    print(f"  {'repeat buyers':<38} {repeat:>10,}")
    x = summary.frame["frequency"].cast(pl.Float64).to_numpy()
    t_x = summary.frame["recency"].to_numpy()
    age = summary.frame["T"].to_numpy()
    m = summary.frame["monetary_value"].to_numpy()
    timed("fit BG/NBD alone", lambda: bgnbd.fit(x, t_x, age))
    timed("fit Gamma-Gamma alone", lambda: gamma_gamma.fit(x[x > 0], m[x > 0]))
    params = timed("fit both (as retcalc clv does)", lambda: fit_models(summary))
    horizon = DAYS_PER_YEAR / 7
    scored = timed(
        "score: p_alive, purchases, 12-month CLV",
        lambda: score(summary, params, horizon=horizon, discount_per_month=0.01),
    )
    bg = params.bgnbd
    gg = params.gamma_gamma
    assert gg is not None
    fitted = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "p": gg.p, "q": gg.q, "v": gg.v}
    truth = {**TRUE_BG, **TRUE_GG}
    print("  parameters  " + "  ".join(f"{k}={fitted[k]:.4g} (true {truth[k]})" for k in truth))
    print(f"  {'total CLV over a year':<38} {scored['clv'].sum():>14,.0f}")


def pipeline_workload(n: int, seed: int) -> None:
    print(f"pipeline: retcalc.sample.generate(customers={n:,})")
    data = timed("generate orders", lambda: generate(customers=n, seed=seed))
    orders = data.orders.lazy().select(
        "customer_id",
        pl.col("order_date").dt.date().alias("day"),
        pl.col("amount").cast(pl.Float64),
        "order_id",
        pl.col("quantity").cast(pl.Float64),
        "status",
    )
    print(f"  {'order lines':<38} {data.orders.height:>10,}")
    summary = timed("summary (Polars)", lambda: rfm_summary(orders))
    print(f"  {'customers with a purchase':<38} {summary.frame.height:>10,}")
    params = timed("fit BG/NBD + Gamma-Gamma", lambda: fit_models(summary))
    timed(
        "score: p_alive, purchases, 12-month CLV",
        lambda: score(summary, params, horizon=DAYS_PER_YEAR, discount_per_month=0.01),
    )


def lifetimes_job(source: str, out: str) -> None:
    """``retcalc clv SOURCE --model bgnbd --per-customer --output OUT`` written with lifetimes
    0.11 as an analyst would: the columns needed, paid lines only (cancelled and returned
    lines and negative amounts dropped: lifetimes sums a day's amounts and cannot net a
    return against its sale's day), lifetimes' summary in days, BG/NBD on everyone,
    Gamma-Gamma on repeat buyers with a positive spend, retcalc's defaults for the
    scores (a year ahead, 12 months discounted at 10 % a year), one CSV."""
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    lines = pd.read_parquet(source, columns=["customer_id", "order_date", "amount", "status"])
    lines = lines[~lines["status"].isin(["cancelled", "returned"]) & (lines["amount"] > 0)]
    summary = summary_data_from_transaction_data(
        lines, "customer_id", "order_date", monetary_value_col="amount", freq="D"
    )
    x, t_x, age, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    bgf = BetaGeoFitter().fit(x, t_x, age)
    spend = summary[(x > 0) & (m > 0)]
    ggf = GammaGammaFitter().fit(spend["frequency"], spend["monetary_value"])
    summary["p_alive"] = bgf.conditional_probability_alive(x, t_x, age)
    summary["expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        365, x, t_x, age
    )
    summary["expected_avg_order_value"] = ggf.conditional_expected_average_profit(x, m)
    summary["clv"] = ggf.customer_lifetime_value(
        bgf, x, t_x, age, m, time=12, discount_rate=1.1 ** (1 / 12) - 1, freq="D"
    )
    summary.to_csv(out)


def timed_process(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds and peak RSS (MiB) of ``command`` in a fresh process under /usr/bin/time,
    and the number of CSV rows it wrote (its last argument)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
        wall, peak = report.read().split()[-2:]
    with open(command[-1], "rb") as written:
        rows = sum(1 for _ in written) - 1
    return float(wall), int(peak) / 1024, rows


def end_to_end_workload(source: str, rounds: int) -> None:
    """:func:`timed_process` of retcalc and of :func:`lifetimes_job`, alternating, ``rounds`` each."""
    here = Path(__file__).resolve()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        jobs = {
            "retcalc": [
                python,
                "-m",
                "retcalc",
                "clv",
                source,
                "--model",
                "bgnbd",
                "--per-customer",
                "--output",
                f"{scratch}/retcalc.csv",
            ],
            "lifetimes": [python, str(here), "--lifetimes-job", source, f"{scratch}/lifetimes.csv"],
        }
        print(
            f"end to end: clv --model bgnbd --per-customer on {source}, {rounds} rounds alternating"
        )
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for round_ in range(1, rounds + 1):
            for name, command in jobs.items():
                wall, peak, rows = timed_process(command)
                times[name].append(wall)
                load = os.getloadavg()[0]
                print(
                    f"  round {round_} {name:<10} {wall:7.2f} s {peak:8,.0f} MiB "
                    f"{rows:>9,} customers  (load {load:.2f})",
                    flush=True,
                )
    ratios = [r / t for r, t in zip(times["retcalc"], times["lifetimes"], strict=True)]
    print(
        f"  retcalc   {min(times['retcalc']):.2f}-{max(times['retcalc']):.2f} s; "
        f"lifetimes {min(times['lifetimes']):.2f}-{max(times['lifetimes']):.2f} s"
    )
    print(
        f"  ratio retcalc/lifetimes per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
        f"of the best times: {min(times['retcalc']) / min(times['lifetimes']):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end-to-end", metavar="DIR", nargs="?", const="/tmp/bench2M/parquet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lifetimes-job", nargs=2, metavar=("SOURCE", "OUT"))
    args = parser.parse_args()
    if args.lifetimes_job:
        lifetimes_job(*args.lifetimes_job)
        return
    if args.end_to_end:
        end_to_end_workload(args.end_to_end, args.rounds)
        return
    model_workload(args.customers, args.seed)
    if args.orders_customers:
        pipeline_workload(args.orders_customers, args.seed)


if __name__ == "__main__":
    main()
