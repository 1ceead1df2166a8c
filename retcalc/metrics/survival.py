"""Survival of customers (SPEC §9): Kaplan-Meier curves with Greenwood log-log
intervals, left truncation and right censoring, median lifetimes, and the log-rank
test between ``--by`` groups.

A *lifetime* runs from an origin to a lapse, both days:

- subscription basis (SPEC §2.2): from ``signup_date`` to ``churn_date`` (one
  lifetime per row of the customers file with a signup date);
- activity basis (SPEC §2.1): from the first purchase day ``f`` to the first
  lapse: the last instant ``L`` at which the customer is still active after a
  purchase ``d`` not followed by another before ``L`` ends (``L`` = the last day
  ``x`` with ``x - W <= d``, i.e. ``d + W`` with calendar arithmetic).

In both, the customer is active at every instant ``x`` with ``origin < x <= L``,
so the lifetime is ``L - origin`` days. Observation covers ``[S, E)``: ``S`` is
``--start`` (else the first purchase day of the data), ``E`` is ``--as-of`` (else
the day after the data's last day). Then

- event: ``L < E`` (the lapse is seen), at ``days = L - origin``;
- censored: otherwise, at ``days = E - origin`` (still active at ``E``);
- left truncation: a lifetime with ``origin < S`` enters at ``entry = S - origin``
  and is counted only when ``days > entry`` (it was still running after ``S``);
  its customer is at risk from day ``entry + 1`` on. A lifetime with
  ``origin >= S`` has ``entry = 0`` and is at risk from day 0.

Kaplan-Meier, per group, over the days ``t`` on which a lifetime ends:

- ``at_risk`` n(t) = lifetimes with entry < t <= days (entry 0: 0 <= t <= days)
- ``events`` d(t), ``censored`` c(t): lifetimes ending at t with and without a lapse
- ``survival`` S(t) = prod over t' <= t of (n(t') - d(t')) / n(t')
- Greenwood: V(t) = sum over t' <= t of d / (n (n - d)) (0 where n = d)
- log-log ("exponential Greenwood") interval at level 1 - a, z = Phi^-1(1 - a/2):
  ``S ** exp(+-z sqrt(V) / log S)``, i.e. exp(-exp(log(-log S) -+ z sqrt(V) / log S));
  1 where S = 1 and 0 where S = 0

as lifelines' ``KaplanMeierFitter`` computes them (events before censorings on the
same day). The median lifetime is the first day with S(t) <= 1/2 (null when S
never falls that low); its interval is where the interval's bounds first fall to
1/2 or below. The log-rank test compares the groups with at least one lifetime:
at each day with an event, group g expects n_g d / n of the d events;
chi2 = (O - E)' V^-1 (O - E) over all groups but one, with the hypergeometric
covariance V_gh = sum over t of d (n - d) / (n - 1) * n_g / n * (delta_gh - n_h / n),
df = groups - 1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from retcalc.errors import InputError, UsageError
from retcalc.metrics.activity import CUSTOMER
from retcalc.periods import Window

SURVIVAL_COLUMNS: tuple[str, ...] = (
    "days",
    "at_risk",
    "events",
    "censored",
    "survival",
    "survival_lo",
    "survival_hi",
)
RATE_COLUMNS: tuple[str, ...] = ("survival", "survival_lo", "survival_hi")
SUMMARY_COLUMNS: tuple[str, ...] = (
    "customers",
    "events",
    "censored",
    "median_days",
    "median_lo",
    "median_hi",
    "logrank_chi2",
    "logrank_df",
    "logrank_p",
)

#: More groups than this get no log-rank test (its covariance matrix grows as their square).
MAX_LOGRANK_GROUPS = 200
#: S(t) within this of 1/2 counts as 1/2 for the median (a product of exact halves
#: may land a rounding error above it).
HALF_TOLERANCE = 1e-12

_G = "_g"


def check_level(level: float) -> float:
    """The confidence level of ``--ci``: strictly between 0 and 1."""
    if not (isinstance(level, int | float) and 0 < level < 1) or math.isnan(level):
        raise UsageError(f"--ci {level!r}: give a level between 0 and 1, e.g. 0.95")
    return float(level)


@dataclass(frozen=True)
class Observation:
    """The days observed: lifetimes are seen from ``start`` (S) to ``end`` (E, exclusive)."""

    start: dt.date
    end: dt.date


def cut_day(end: dt.date | None, as_of: dt.date | None) -> dt.date | None:
    """The first day not looked at: ``as_of``, or the day after ``end``, whichever is
    earlier (None: neither given)."""
    cuts = [d for d in (as_of, end + dt.timedelta(days=1) if end else None) if d is not None]
    return min(cuts) if cuts else None


def observation(
    *, first: dt.date | None, last: dt.date | None, start: dt.date | None, cut: dt.date | None
) -> Observation:
    """S = ``start`` else ``first`` (the first purchase day, else the first signup);
    E = ``cut`` (``cut_day``) else the day after ``last`` (the data's last day)."""
    if first is None or last is None:
        before = f" before {cut}" if cut else ""
        raise InputError(f"no purchases or signups{before}: nobody to follow")
    stop = cut or last + dt.timedelta(days=1)
    begin = start or first
    if begin >= stop:
        raise InputError(
            f"the observation is empty: it starts on {begin} and ends before {stop}; check "
            "--start, --end and --as-of"
        )
    return Observation(begin, stop)


def follow_subscriptions(
    customers: pl.LazyFrame,
    purchases: pl.LazyFrame,
    keys: Sequence[str],
    *,
    start: dt.date | None,
    cut: dt.date | None,
    name: str = "customers",
) -> tuple[pl.DataFrame, Observation]:
    """Subscription lifetimes and what was observed: ``purchases`` (``day``, before
    ``cut``) give S when ``start`` is not given; the data's last day is the last signup,
    churn or purchase before ``cut``."""
    schema = customers.collect_schema()
    churn = pl.col("churn_date") if "churn_date" in schema else pl.lit(None, dtype=pl.Date)
    subs = customers.filter(pl.col("signup_date").is_not_null())
    if cut is not None:
        subs = subs.filter(pl.col("signup_date") < cut)
        churn = pl.when(churn < cut).then(churn)
    ordered = purchases.select(pl.col("day").min().alias("lo"), pl.col("day").max().alias("hi"))
    signed = subs.select(
        pl.col("signup_date").min().alias("lo"),
        pl.max_horizontal(pl.col("signup_date").max(), churn.max()).alias("hi"),
    )
    (first_order, last_order), (first_signup, last_signup) = (
        ordered.collect().row(0),
        signed.collect().row(0),
    )
    last = max((d for d in (last_order, last_signup) if d is not None), default=None)
    seen = observation(first=first_order or first_signup, last=last, start=start, cut=cut)
    return subscription_lifetimes(customers, keys, seen, name=name), seen


def follow_activity(
    purchases: pl.LazyFrame,
    keys: Sequence[str],
    window: Window,
    *,
    start: dt.date | None,
    cut: dt.date | None,
) -> tuple[pl.DataFrame, Observation]:
    """Activity lifetimes and what was observed (``purchases``: ``keys..., customer_id,
    day``, before ``cut``)."""
    span = purchases.select(pl.col("day").min().alias("lo"), pl.col("day").max().alias("hi"))
    first, last = span.collect().row(0)
    seen = observation(first=first, last=last, start=start, cut=cut)
    return activity_lifetimes(purchases, keys, window, seen), seen


def _day_count(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Int64)


def _follow(frame: pl.LazyFrame, seen: Observation) -> pl.LazyFrame:
    """Lifetimes from ``origin`` and ``lapse`` (null: none known): ``event``, ``days``,
    ``entry`` and ``counted`` as the module docstring says, one rule for both bases."""
    start, end = pl.lit(seen.start, dtype=pl.Date), pl.lit(seen.end, dtype=pl.Date)
    event = pl.col("lapse").is_not_null() & (pl.col("lapse") < end)
    return (
        frame.with_columns(event.alias("event"))
        .with_columns(pl.when(pl.col("event")).then(pl.col("lapse")).alias("lapse"))
        .with_columns(
            _day_count(pl.coalesce("lapse", end), pl.col("origin")).alias("days"),
            pl.when(pl.col("origin") < start)
            .then(_day_count(start, pl.col("origin")))
            .otherwise(0)
            .alias("entry"),
        )
        .with_columns(
            ((pl.col("entry") == 0) | (pl.col("days") > pl.col("entry"))).alias("counted")
        )
    )


def subscription_lifetimes(
    customers: pl.LazyFrame, keys: Sequence[str], seen: Observation, *, name: str = "customers"
) -> pl.DataFrame:
    """One lifetime per customer row with a signup date before E: ``signup_date`` to
    ``churn_date`` (SPEC §2.2: active at x when signup_date < x <= churn_date)."""
    schema = customers.collect_schema()
    churn = pl.col("churn_date") if "churn_date" in schema else pl.lit(None, dtype=pl.Date)
    rows = (
        customers.filter(
            pl.col("signup_date").is_not_null()
            & (pl.col("signup_date") < pl.lit(seen.end, dtype=pl.Date))
        )
        .select(
            *keys,
            CUSTOMER,
            pl.col("signup_date").alias("origin"),
            churn.alias("lapse"),
        )
        .collect()
    )
    backwards = rows.filter(pl.col("lapse") < pl.col("origin"))
    if backwards.height:
        who, signup, churned = backwards.select(CUSTOMER, "origin", "lapse").row(0)
        raise InputError(
            f"{name}: {backwards.height} customers churn before they sign up (the first: "
            f"customer_id {who}, signup_date {signup}, churn_date {churned}); a churn_date "
            "must be on or after the signup_date: fix those rows (or empty their churn_date)"
        )
    return _follow(rows.lazy(), seen).collect()


def lapse_day(day: pl.Expr, window: Window, first: dt.date, last: dt.date) -> pl.Expr:
    """The last instant x with x - W <= ``day`` (SPEC §2.1: a purchase on d keeps its
    customer active at every x with x - W <= d < x), for days in ``[first, last]``.

    Read from a table of the days around the span, as ``activity.count_up_to`` does:
    x - W is non-decreasing in x (calendar arithmetic may map several x to one day).
    """
    reach = pl.select(
        pl.lit(last, dtype=pl.Date).dt.offset_by(f"{window.count}{window.unit}")
    ).item() + dt.timedelta(days=4)
    xs = pl.date_range(first, reach, eager=True)
    backs = xs.dt.offset_by(window.offset())
    assert backs[-1] > last, (window, last)
    return pl.lit(xs).gather(pl.lit(backs).search_sorted(day, side="right") - 1)


def activity_lifetimes(
    purchases: pl.LazyFrame, keys: Sequence[str], window: Window, seen: Observation
) -> pl.DataFrame:
    """One lifetime per customer (and ``keys`` value): from the first purchase day to the
    first lapse, the reach (``lapse_day``) of the first purchase not followed by another
    within it. ``purchases``: distinct ``keys..., customer_id, day`` before E, each
    customer's rows together and in day order (as ``events.purchase_days`` gives them)."""
    group = [*keys, CUSTOMER]
    days = purchases.select(*group, "day").collect()
    if days.height == 0:
        schema = {c: days.schema[c] for c in group}
        empty = pl.DataFrame(schema={**schema, "origin": pl.Date, "lapse": pl.Date})
        return _follow(empty.lazy(), seen).collect()
    if window.is_all:
        lapse = pl.lit(None, dtype=pl.Date)
    else:
        lo, hi = days.select(pl.col("day").min().alias("lo"), pl.col("day").max().alias("hi")).row(
            0
        )
        lapse = lapse_day(pl.col("day"), window, lo, hi)
    # The customer's next purchase day: the next row's, when it is the same customer
    # (and keys; a null key equals a null key).
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).shift(-1)) for c in group])
    nxt = pl.when(same).then(pl.col("day").shift(-1))
    spells = (
        days.lazy()
        .with_columns(lapse.alias("_lapse"), nxt.alias("_next"))
        .with_columns(
            (pl.col("_next").is_null() | (pl.col("_next") > pl.col("_lapse"))).alias("_ends")
        )
        .group_by(group)
        .agg(
            pl.col("day").min().alias("origin"),
            pl.col("_lapse").filter(pl.col("_ends")).min().alias("lapse"),
        )
    )
    return _follow(spells, seen).collect()


# Kaplan-Meier.


def _grouped(frame: pl.DataFrame, keys: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` with an integer group ``_g``, and the groups (``_g``, keys), sorted by keys."""
    if not keys:
        return frame.with_columns(pl.lit(0, dtype=pl.UInt32).alias(_G)), pl.DataFrame(
            {_G: pl.Series([0], dtype=pl.UInt32)}
        )
    groups = frame.select(keys).unique().sort(list(keys), nulls_last=True).with_row_index(_G)
    return frame.join(groups, on=list(keys), how="left", nulls_equal=True), groups


def _risk_changes(lifetimes: pl.DataFrame) -> pl.DataFrame:
    """Per group and day: ``delta`` (lifetimes entering the risk set after this day, less
    those leaving it), ``events``, ``censored``. A lifetime with entry 0 enters on day -1
    (at risk from day 0), a later one on its entry day; each leaves on its last day."""
    entering = lifetimes.select(
        _G,
        pl.when(pl.col("entry") > 0)
        .then(pl.col("entry"))
        .otherwise(-1)
        .cast(pl.Int64)
        .alias("days"),
        pl.lit(1, dtype=pl.Int64).alias("delta"),
        pl.lit(0, dtype=pl.Int64).alias("events"),
        pl.lit(0, dtype=pl.Int64).alias("censored"),
    )
    leaving = lifetimes.select(
        _G,
        pl.col("days").cast(pl.Int64),
        pl.lit(-1, dtype=pl.Int64).alias("delta"),
        pl.col("event").cast(pl.Int64).alias("events"),
        (~pl.col("event")).cast(pl.Int64).alias("censored"),
    )
    return (
        pl.concat([entering, leaving])
        .group_by(_G, "days")
        .agg(pl.col("delta", "events", "censored").sum())
        .sort(_G, "days")
    )


def _curve(changes: pl.DataFrame, level: float) -> pl.DataFrame:
    """The Kaplan-Meier rows (``_g`` and SURVIVAL_COLUMNS) from ``_risk_changes``."""
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    n, d = pl.col("at_risk"), pl.col("events")
    s, v = pl.col("survival"), pl.col("_var")
    log_s = s.log()
    spread = z * v.sqrt() / log_s

    def bound(sign: float) -> pl.Expr:
        value = (-((-log_s).log() + sign * spread).exp()).exp()
        return pl.when(s >= 1).then(1.0).when(s <= 0).then(0.0).otherwise(value)

    return (
        changes.with_columns(
            (pl.col("delta").cum_sum().over(_G) - pl.col("delta")).alias("at_risk")
        )
        .filter((d + pl.col("censored")) > 0)
        .with_columns(
            ((n - d).cast(pl.Float64) / n).cum_prod().over(_G).alias("survival"),
            pl.when(n > d)
            .then(d.cast(pl.Float64) / (n.cast(pl.Float64) * (n - d)))
            .otherwise(0.0)
            .cum_sum()
            .over(_G)
            .alias("_var"),
        )
        .with_columns(bound(-1.0).alias("survival_lo"), bound(1.0).alias("survival_hi"))
        .select(_G, *SURVIVAL_COLUMNS)
    )


def kaplan_meier(lifetimes: pl.DataFrame, keys: Sequence[str], *, level: float) -> pl.DataFrame:
    """The survival table: per group, one row per day on which a counted lifetime ends.

    ``lifetimes``: ``keys..., entry, days, event`` (and ``counted``: only those
    counted are used); see the module docstring for the formulas."""
    counted = _counted(lifetimes)
    marked, groups = _grouped(counted, keys)
    curve = _curve(_risk_changes(marked), check_level(level))
    return groups.join(curve, on=_G, how="inner").sort(_G, "days").drop(_G)


def _counted(lifetimes: pl.DataFrame) -> pl.DataFrame:
    if "counted" in lifetimes.columns:
        return lifetimes.filter(pl.col("counted"))
    return lifetimes


# The median and the log-rank test.


def medians(table: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Per group of the survival table: the first day with survival (and its bounds) at
    or below 1/2: ``median_days``, ``median_lo`` (from survival_lo), ``median_hi``
    (from survival_hi); null when the curve never falls that low."""
    half = 0.5 + HALF_TOLERANCE

    def first_at_half(column: str) -> pl.Expr:
        return pl.col("days").filter(pl.col(column) <= half).min()

    agg = [
        first_at_half("survival").alias("median_days"),
        first_at_half("survival_lo").alias("median_lo"),
        first_at_half("survival_hi").alias("median_hi"),
    ]
    if not keys:
        return (
            table.select(agg)
            if table.height
            else pl.DataFrame(
                {
                    c: pl.Series([None], dtype=pl.Int64)
                    for c in ("median_days", "median_lo", "median_hi")
                }
            )
        )
    return table.group_by(list(keys)).agg(agg)


@dataclass(frozen=True)
class LogRank:
    """The log-rank test between the groups: chi-square statistic, degrees of freedom, p."""

    chi2: float
    df: int
    p: float


def logrank(lifetimes: pl.DataFrame, keys: Sequence[str]) -> LogRank | None:
    """The log-rank test between the ``keys`` groups with at least one counted lifetime
    (module docstring); None with fewer than two such groups, or more than
    MAX_LOGRANK_GROUPS."""
    counted = _counted(lifetimes)
    if not keys or counted.height == 0:
        return None
    marked, groups = _grouped(counted, keys)
    k = groups.height
    if k < 2 or k > MAX_LOGRANK_GROUPS:
        return None
    changes = _risk_changes(marked)
    times = changes.filter(pl.col("events") > 0).select(pl.col("days").unique().sort())
    if times.height == 0:
        return LogRank(0.0, k - 1, 1.0)
    import numpy as np  # only here: the curve needs none of it

    # n_g(t): the changes of the days before t, summed; a query row sorts before the
    # changes of its own day, so that the running sum there leaves them out.
    queries = (
        groups.select(_G)
        .join(times, how="cross")
        .with_columns(pl.lit(0, dtype=pl.Int64).alias("delta"), pl.lit(True).alias("_query"))
    )
    at = (
        pl.concat(
            [changes.select(_G, "days", "delta", pl.lit(False).alias("_query")), queries],
            how="vertical_relaxed",
        )
        .sort(_G, "days", "_query", descending=[False, False, True])
        .with_columns(pl.col("delta").cum_sum().over(_G).alias("_in"))
        .filter(pl.col("_query"))
        .join(changes.select(_G, "days", "events"), on=[_G, "days"], how="left")
        .with_columns(pl.col("events").fill_null(0))
        .sort("days", _G)
    )
    n_g = at["_in"].to_numpy().reshape(times.height, k).astype(np.float64)
    d_g = at["events"].to_numpy().reshape(times.height, k).astype(np.float64)
    n = n_g.sum(axis=1)
    d = d_g.sum(axis=1)
    expected = (n_g * (d / n)[:, None]).sum(axis=0)
    observed = d_g.sum(axis=0)
    share = n_g / n[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    cov = np.diag((share * weight[:, None]).sum(axis=0)) - (share * weight[:, None]).T @ share
    diff = (observed - expected)[:-1]
    stat = float(diff @ np.linalg.pinv(cov[:-1, :-1]) @ diff)
    from scipy.special import chdtrc  # the chi-square survival function (scipy.stats: slow)

    return LogRank(stat, k - 1, float(chdtrc(k - 1, stat)))


def summary(
    lifetimes: pl.DataFrame, table: pl.DataFrame, keys: Sequence[str], test: LogRank | None
) -> pl.DataFrame:
    """One row per group (every group with a lifetime, counted or not): customers
    (lifetimes counted), events, censored, the median and its interval, and the
    log-rank test between the groups (the same on every row; null without groups)."""
    counted = pl.col("counted") if "counted" in lifetimes.columns else pl.lit(True)
    counts = [
        counted.sum().cast(pl.Int64).alias("customers"),
        (counted & pl.col("event")).sum().cast(pl.Int64).alias("events"),
        (counted & ~pl.col("event")).sum().cast(pl.Int64).alias("censored"),
    ]
    found = medians(table, keys)
    if keys:
        per_group = (
            lifetimes.group_by(list(keys))
            .agg(counts)
            .join(found, on=list(keys), how="left", nulls_equal=True)
            .sort(list(keys), nulls_last=True)
        )
    else:
        per_group = pl.concat([lifetimes.select(counts), found], how="horizontal")
    return per_group.with_columns(
        pl.lit(test.chi2 if test else None, dtype=pl.Float64).alias("logrank_chi2"),
        pl.lit(test.df if test else None, dtype=pl.Int64).alias("logrank_df"),
        pl.lit(test.p if test else None, dtype=pl.Float64).alias("logrank_p"),
    ).select(*keys, *SUMMARY_COLUMNS)
