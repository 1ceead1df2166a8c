"""Synthetic but realistic customer, order and return exports for demos and tests.

``generate`` simulates a shop with a BG/NBD-like purchase process: each customer
has a purchase rate lambda ~ Gamma and, after every purchase, drops out with a
probability p ~ Beta; a small share of drop-outs comes back after a lapse of
more than a year. Sign-ups arrive throughout the period with a Nov/Dec peak and
slow growth. Orders have one or more lines from a catalogue of products with
skewed popularity and fixed unit prices; about 2 % of orders are cancelled and
some lines are returned 3-40 days later (negative lines in the orders export,
positive rows in a separate returns export).

The output depends only on ``(customers, seed, start, years)``: all randomness
comes from one local ``random.Random(seed)`` consumed in a fixed order, and the
vectorised steps are order-preserving Polars operations.
"""

from __future__ import annotations

import calendar
import itertools
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

import polars as pl

from retcalc.errors import RetcalcError, UsageError
from retcalc.render.atomic import atomic_write

__all__ = ["SampleData", "generate", "write_sample"]

SEGMENTS = ("consumer", "small_business", "enterprise")
CHANNELS = ("web", "app", "store")
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "order_date",
    "product_id",
    "quantity",
    "amount",
    "status",
    "channel",
)
CUSTOMER_COLUMNS = ("customer_id", "signup_date", "churn_date", "segment", "cost_to_serve")
RETURN_COLUMNS = ("order_id", "customer_id", "return_date", "product_id", "quantity", "amount")

# --- model parameters (indexed like SEGMENTS / CHANNELS) -----------------------
_SEGMENT_SHARES = (0.74, 0.20, 0.06)
_RATE_SCALE = (1.0, 1.6, 3.5)  # multiplier on the purchase rate
_DROPOUT_SCALE = (1.0, 0.8, 0.35)  # multiplier on the drop-out probability
_LINES_CONTINUE = (0.22, 0.35, 0.55)  # P(another line) - geometric number of lines
_QTY_CONTINUE = (0.22, 0.45, 0.75)  # P(another unit) - geometric quantity
_QTY_MAX = (6, 24, 60)
_MAX_LINES = 8
# Mean yearly cost per customer: small businesses cost about 2/3 of their revenue.
_COST_TO_SERVE = (12.0, 180.0, 600.0)
_CHANNEL_SHARES = (0.55, 0.30, 0.15)
_PREFERRED_CHANNEL = 0.75  # share of a customer's orders on their preferred channel

_RATE_SHAPE = 0.6  # lambda ~ Gamma(shape, mean / shape), per day
_RATE_MEAN = 1 / 120
_RATE_MAX = 1 / 4
_DROPOUT_A, _DROPOUT_B = 0.6, 0.6  # p ~ Beta(a, b), U-shaped: many leave, some stay
_COMEBACK = 0.12  # share of drop-outs who come back once, after a lapse
_LAPSE_MIN_DAYS, _LAPSE_EXTRA_MEAN = 380, 150
_NEVER_BUY = 0.04
_FIRST_ORDER_SAME_DAY = 0.8
_FIRST_ORDER_DELAY_MEAN = 12  # days, for the others
_CHURN_SHARE = 0.6  # of customers who stopped buying, share who also cancel
_CHURN_DELAY_MEAN = 60  # days after the last order

_N_PRODUCTS = 200
_POPULARITY_EXPONENT = 1.1
_PRICE_RANGE = (5.0, 200.0)
_CANCEL_RATE = 0.02
_RETURN_RATE = 0.065
_RETURN_DAYS = (3, 40)

# Jan..Dec; purchases and sign-ups both peak in Nov/Dec.
_MONTH_WEIGHT = (0.85, 0.8, 0.9, 0.95, 0.95, 0.9, 0.88, 0.9, 0.95, 1.05, 1.4, 1.6)
_SIGNUP_GROWTH = 0.5  # sign-ups per day grow by this fraction over the period
_OPEN_HOUR = 8  # shop hours: 08:00:00-21:59:59
_HOUR_WEIGHT = (2, 4, 6, 7, 8, 7, 6, 6, 7, 8, 9, 9, 7, 4)


@dataclass(frozen=True)
class SampleData:
    """The three exports: one row per customer, per order line, per returned line."""

    customers: pl.DataFrame
    orders: pl.DataFrame
    returns: pl.DataFrame


def generate(
    *,
    customers: int,
    seed: int,
    start: date = date(2023, 1, 1),
    years: float = 3.0,
) -> SampleData:
    """Simulate ``customers`` customers and their orders in ``[start, start + years)``.

    ``start + years`` adds whole calendar years, then ``round(fraction * 365.25)``
    days. Every order, return, sign-up and churn date lies inside that window.
    """
    if customers < 0:
        raise UsageError(f"customers must be 0 or more, got {customers}")
    if not years > 0:
        raise UsageError(f"years must be positive, got {years}")
    start = date(start.year, start.month, start.day)  # a datetime is a date too
    end = _add_years(start, years)
    n_days = (end - start).days
    rng = random.Random(seed)

    prices, popularity_cum = _catalogue(rng)
    season = [_MONTH_WEIGHT[(start + timedelta(days=d)).month - 1] for d in range(n_days)]

    # Customers, numbered in sign-up order.
    signup_cum = list(
        itertools.accumulate(season[d] * (1 + _SIGNUP_GROWTH * d / n_days) for d in range(n_days))
    )
    signup = sorted(rng.choices(range(n_days), cum_weights=signup_cum, k=customers))
    segment = _categorical(rng, _SEGMENT_SHARES, customers)
    preferred = _categorical(rng, _CHANNEL_SHARES, customers)

    # Purchase days per customer (the sequential part of the simulation).
    order_cust: list[int] = []
    order_day: list[int] = []
    stopped: list[bool] = []  # dropped out (not merely cut off by the data end)
    for i in range(customers):
        days, dead = _purchase_days(rng, signup[i], segment[i], season, n_days)
        order_cust.extend(itertools.repeat(i, len(days)))
        order_day.extend(days)
        stopped.append(dead)
    start_dt = datetime(start.year, start.month, start.day)
    end_dt = datetime(end.year, end.month, end.day)
    orders = _orders(rng, order_cust, order_day, segment, preferred, start_dt)
    all_lines = _lines(rng, orders, prices, popularity_cum, start_dt, end_dt)

    cust_width = max(5, len(str(customers)))
    order_width = max(6, len(str(orders.height)))
    order_frame = all_lines.select(
        order_id=_ids("O", "order_no", order_width),
        customer_id=_ids("C", pl.col("cust") + 1, cust_width),
        order_date="ts",
        product_id=_ids("P", pl.col("product") + 1, 4),
        quantity="quantity",
        amount="amount",
        status="status",
        channel=_replace(pl.col("channel"), CHANNELS),
    )
    returns_frame = order_frame.filter(pl.col("status") == "returned").select(
        "order_id",
        "customer_id",
        return_date=pl.col("order_date").dt.date(),
        product_id="product_id",
        quantity=-pl.col("quantity"),
        amount=-pl.col("amount"),
    )

    customer_frame = _customers(
        rng,
        signup=signup,
        segment=segment,
        stopped=stopped,
        all_lines=all_lines,
        start=start,
        end=end,
        width=cust_width,
    )
    return SampleData(customers=customer_frame, orders=order_frame, returns=returns_frame)


SAMPLE_FILES = ("customers.csv", "orders.csv", "orders.parquet", "returns.csv")
"""The files ``write_sample`` writes, in that order."""


def check_sample_directory(directory: Path, *, force: bool = False) -> None:
    """Refuse a directory holding any of :data:`SAMPLE_FILES`, unless ``force``."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--output {directory}: exists and is not a directory")
    there = [name for name in SAMPLE_FILES if os.path.lexists(directory / name)]
    if there and not force:
        raise UsageError(
            f"refusing to overwrite {', '.join(there)} in {directory}; "
            "pass --force to replace them, or choose another --output"
        )


def write_sample(data: SampleData, directory: Path, *, force: bool = False) -> list[Path]:
    """Write customers.csv, orders.csv, orders.parquet, returns.csv into ``directory``.

    The directory is created if missing. A directory already holding any of these
    files is refused (a :class:`UsageError` naming them) unless ``force``. Each file
    is replaced atomically (``retcalc.render.atomic``), so a reader never sees a
    half-written file. Returns the paths written, in that order.
    """
    directory = Path(directory)
    check_sample_directory(directory, force=force)
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[IO[bytes]], None]] = {
        "customers.csv": _csv_writer(data.customers),
        "orders.csv": _csv_writer(data.orders),
        "orders.parquet": data.orders.write_parquet,
        "returns.csv": _csv_writer(data.returns),
    }
    written = []
    for name in SAMPLE_FILES:
        target = directory / name
        _write_atomically(target, writers[name])
        written.append(target)
    return written


# --- helpers -------------------------------------------------------------------


def _add_years(start: date, years: float) -> date:
    whole = math.floor(years)
    year = start.year + whole
    day = min(start.day, calendar.monthrange(year, start.month)[1])  # 29 Feb -> 28 Feb
    return date(year, start.month, day) + timedelta(days=round((years - whole) * 365.25))


def _catalogue(rng: random.Random) -> tuple[list[float], list[float]]:
    """Unit prices (x.99, log-uniform) and cumulative Zipf-like popularity weights."""
    lo, hi = (math.log(x) for x in _PRICE_RANGE)
    prices = [max(round(math.exp(rng.uniform(lo, hi))), 5) - 0.01 for _ in range(_N_PRODUCTS)]
    rank = list(range(_N_PRODUCTS))
    rng.shuffle(rank)  # bestsellers are not simply P0001, P0002, ...
    weights = [1 / (r + 1) ** _POPULARITY_EXPONENT for r in rank]
    return prices, list(itertools.accumulate(weights))


def _categorical(rng: random.Random, shares: Sequence[float], k: int) -> list[int]:
    return rng.choices(range(len(shares)), weights=shares, k=k)


def _open_uniform(rng: random.Random, k: int) -> list[float]:
    """Uniform draws in (0, 1], safe to take the log of."""
    return [1.0 - rng.random() for _ in range(k)]


def _shop_seconds(rng: random.Random, k: int) -> list[int]:
    """Seconds since midnight during shop hours, busier in the afternoon."""
    hours = rng.choices(range(len(_HOUR_WEIGHT)), weights=_HOUR_WEIGHT, k=k)
    return [(_OPEN_HOUR + h) * 3600 + int(rng.random() * 3600) for h in hours]


def _geometric(u: pl.Series, cont: pl.Expr, cap: int | None) -> pl.Expr:
    """1 + Geometric(1 - cont) from uniforms ``u`` in (0, 1], optionally capped."""
    n = (1 + (pl.lit(u).log() / cont.log()).floor()).cast(pl.Int64)
    return n if cap is None else n.clip(upper_bound=cap)


def _replace(index: pl.Series | pl.Expr, values: Sequence[object]) -> pl.Expr:
    """Map a 0-based index to ``values[index]``."""
    expr = pl.lit(index) if isinstance(index, pl.Series) else index
    return expr.replace_strict(list(range(len(values))), list(values))


def _ids(prefix: str, number: pl.Expr | str, width: int) -> pl.Expr:
    number = pl.col(number) if isinstance(number, str) else number
    return pl.lit(prefix) + number.cast(pl.String).str.zfill(width)


def _purchase_days(
    rng: random.Random, signup: int, seg: int, season: list[float], n_days: int
) -> tuple[list[int], bool]:
    """Purchase days of one customer, and whether they dropped out for good.

    BG/NBD with a seasonal purchase rate (simulated by thinning) and at most one
    comeback after a lapse of more than a year.
    """
    if rng.random() < _NEVER_BUY:
        return [], True
    t = float(signup)
    if rng.random() >= _FIRST_ORDER_SAME_DAY:
        t += 1 + math.floor(rng.expovariate(1 / _FIRST_ORDER_DELAY_MEAN))
    if t >= n_days:
        return [], True
    t += rng.random()  # a continuous clock; the day is its integer part
    rate = rng.gammavariate(_RATE_SHAPE, _RATE_MEAN / _RATE_SHAPE) * _RATE_SCALE[seg]
    rate = min(rate, _RATE_MAX)
    dropout = rng.betavariate(_DROPOUT_A, _DROPOUT_B) * _DROPOUT_SCALE[seg]
    season_max = max(_MONTH_WEIGHT)
    days = [int(t)]
    came_back = False
    while True:
        if rng.random() < dropout:
            if came_back or rng.random() >= _COMEBACK:
                return days, True
            came_back = True
            t += _LAPSE_MIN_DAYS + rng.expovariate(1 / _LAPSE_EXTRA_MEAN)
            if t >= n_days:
                return days, True
        else:
            while True:  # next purchase of a Poisson process with seasonal rate
                t += rng.expovariate(rate * season_max)
                if t >= n_days:
                    return days, False
                if rng.random() * season_max < season[int(t)]:
                    break
        days.append(int(t))


def _orders(
    rng: random.Random,
    order_cust: list[int],
    order_day: list[int],
    segment: list[int],
    preferred: list[int],
    start_dt: datetime,
) -> pl.DataFrame:
    """One row per order, numbered in time order, with channel, status and line count."""
    n_orders = len(order_day)
    order_sec = _shop_seconds(rng, n_orders)
    orders = (
        pl.DataFrame(
            {"cust": order_cust, "day": order_day, "sec": order_sec},
            schema={"cust": pl.Int64, "day": pl.Int64, "sec": pl.Int64},
        )
        .sort("day", "sec", "cust", maintain_order=True)
        .with_row_index("order_no", offset=1)
    )
    cust_s = orders["cust"]
    seg_s = pl.Series(segment, dtype=pl.Int64).gather(cust_s)
    pref_s = pl.Series(preferred, dtype=pl.Int64).gather(cust_s)
    other_channel = _categorical(rng, _CHANNEL_SHARES, n_orders)
    keep_pref = [rng.random() < _PREFERRED_CHANNEL for _ in range(n_orders)]
    cancelled = [rng.random() < _CANCEL_RATE for _ in range(n_orders)]
    lines_u = _open_uniform(rng, n_orders)
    return orders.with_columns(
        seg=seg_s,
        channel=pl.when(pl.Series(keep_pref, dtype=pl.Boolean))
        .then(pref_s)
        .otherwise(pl.Series(other_channel, dtype=pl.Int64)),
        cancelled=pl.Series(cancelled, dtype=pl.Boolean),
        n_lines=_geometric(
            pl.Series(lines_u, dtype=pl.Float64), _replace(seg_s, _LINES_CONTINUE), _MAX_LINES
        ),
        ts=pl.lit(start_dt) + pl.duration(days="day", seconds="sec"),
    )


def _lines(
    rng: random.Random,
    orders: pl.DataFrame,
    prices: list[float],
    popularity_cum: list[float],
    start_dt: datetime,
    end_dt: datetime,
) -> pl.DataFrame:
    """Sale lines and return lines, sorted by time then order number.

    Products are drawn by popularity, once per order; returned quantity is
    uniform in 1..quantity; returns after ``end_dt`` are dropped.
    """
    lines = orders.select(
        "order_no", "cust", "seg", "day", "ts", "channel", "cancelled", "n_lines"
    ).with_columns(line=pl.int_ranges(0, "n_lines"))
    lines = lines.explode("line")
    product = rng.choices(range(_N_PRODUCTS), cum_weights=popularity_cum, k=lines.height)
    lines = lines.with_columns(product=pl.Series(product, dtype=pl.Int64)).unique(
        subset=["order_no", "product"], keep="first", maintain_order=True
    )
    n_lines = lines.height
    qty_u = _open_uniform(rng, n_lines)
    has_return = [rng.random() < _RETURN_RATE for _ in range(n_lines)]
    ret_frac = [rng.random() for _ in range(n_lines)]
    lo, hi = _RETURN_DAYS
    ret_delay = [lo + int(rng.random() * (hi - lo + 1)) for _ in range(n_lines)]
    ret_sec = _shop_seconds(rng, n_lines)
    seg_line = lines["seg"]
    lines = lines.with_columns(
        price=pl.Series(prices, dtype=pl.Float64).gather(lines["product"]),
        quantity=_geometric(
            pl.Series(qty_u, dtype=pl.Float64), _replace(seg_line, _QTY_CONTINUE), None
        ).clip(upper_bound=_replace(seg_line, _QTY_MAX)),
        has_return=pl.Series(has_return, dtype=pl.Boolean),
        ret_frac=pl.Series(ret_frac, dtype=pl.Float64),
        ret_day=pl.col("day") + pl.Series(ret_delay, dtype=pl.Int64),
        ret_sec=pl.Series(ret_sec, dtype=pl.Int64),
    )
    sales = lines.select(
        "order_no",
        "cust",
        "ts",
        "product",
        "quantity",
        amount=(pl.col("quantity") * pl.col("price")).round(2),
        status=pl.when("cancelled").then(pl.lit("cancelled")).otherwise(pl.lit("completed")),
        channel="channel",
        kind=pl.lit(0),
        line="line",
    )
    ret_qty = (1 + (pl.col("ret_frac") * pl.col("quantity")).floor()).cast(pl.Int64)
    returns = (
        lines.filter(pl.col("has_return") & ~pl.col("cancelled"))
        .select(
            "order_no",
            "cust",
            ts=pl.lit(start_dt) + pl.duration(days="ret_day", seconds="ret_sec"),
            product="product",
            quantity=-ret_qty,
            amount=-(ret_qty * pl.col("price")).round(2),
            status=pl.lit("returned"),
            channel="channel",
            kind=pl.lit(1),
            line="line",
        )
        .filter(pl.col("ts") < end_dt)
    )
    return pl.concat([sales, returns]).sort("ts", "order_no", "kind", "line", maintain_order=True)


def _customers(
    rng: random.Random,
    *,
    signup: list[int],
    segment: list[int],
    stopped: list[bool],
    all_lines: pl.DataFrame,
    start: date,
    end: date,
    width: int,
) -> pl.DataFrame:
    """One row per customer; churn_date for a share of those who stopped buying."""
    n = len(signup)
    churns = [stop and rng.random() < _CHURN_SHARE for stop in stopped]
    churn_delay = [1 + math.floor(rng.expovariate(1 / _CHURN_DELAY_MEAN)) for _ in range(n)]
    noise = [rng.lognormvariate(0, 0.3) for _ in range(n)]
    # The last day the customer did anything (an order, or a return of one).
    last_day = (
        all_lines.group_by("cust")
        .agg(last=(pl.col("ts").max().dt.date() - pl.lit(start)).dt.total_days())
        .sort("cust")
    )
    base = pl.DataFrame(
        {
            "cust": range(n),
            "signup": signup,
            "seg": segment,
            "churns": churns,
            "churn_delay": churn_delay,
            "noise": noise,
        },
        schema={
            "cust": pl.Int64,
            "signup": pl.Int64,
            "seg": pl.Int64,
            "churns": pl.Boolean,
            "churn_delay": pl.Int64,
            "noise": pl.Float64,
        },
    ).join(last_day, on="cust", how="left", maintain_order="left")
    n_days = (end - start).days
    churn_day = pl.max_horizontal("signup", "last") + pl.col("churn_delay")
    return base.select(
        customer_id=_ids("C", pl.col("cust") + 1, width),
        signup_date=pl.lit(start) + pl.duration(days="signup"),
        churn_date=pl.when(pl.col("churns") & (churn_day < n_days)).then(
            pl.lit(start) + pl.duration(days=churn_day)
        ),
        segment=_replace(pl.col("seg"), SEGMENTS),
        cost_to_serve=(_replace(pl.col("seg"), _COST_TO_SERVE) * pl.col("noise")).round(2),
    ).with_columns(pl.col("signup_date", "churn_date").cast(pl.Date))


def _csv_writer(frame: pl.DataFrame) -> Callable[[IO[bytes]], None]:
    """Write ``frame`` as CSV with dates as YYYY-MM-DD and two-decimal amounts."""

    def write(sink: IO[bytes]) -> None:
        frame.write_csv(
            sink,
            datetime_format="%Y-%m-%d %H:%M:%S",
            date_format="%Y-%m-%d",
            float_precision=2,
        )

    return write


def _write_atomically(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """``write(sink)`` into a temporary file beside ``target``, then rename it over."""
    try:
        with atomic_write(target) as sink:
            write(sink)
    except OSError as exc:
        raise RetcalcError(f"cannot write {target}: {exc.strerror or exc}") from exc
