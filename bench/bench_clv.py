"""Time the BG/NBD + Gamma-Gamma fit and scoring of ``retcalc clv --model bgnbd``.

Two workloads:

1. *model*: a per-customer summary of N customers (default 1,000,000) drawn
   with numpy from a BG/NBD process and a Gamma-Gamma spend with known
   parameters (the CDNOW estimates); times the fits and the scoring (p_alive,
   expected purchases and a 12-month discounted CLV) and shows the recovered
   parameters next to the true ones.
2. *pipeline*: orders of M customers from ``retcalc.sample.generate`` (lines,
   returns, cancellations); times the Polars summary, the fits and the scoring.

Usage: ``.venv/bin/python bench/bench_clv.py [--customers N] [--orders-customers M] [--seed S]``
(``--orders-customers 0`` skips the pipeline).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import TypeVar

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model_workload(args.customers, args.seed)
    if args.orders_customers:
        pipeline_workload(args.orders_customers, args.seed)


if __name__ == "__main__":
    main()
