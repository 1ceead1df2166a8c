"""Customer lifetime value (SPEC §2.7): historical, formula, and BG/NBD with Gamma-Gamma.

This module joins the predictive pieces into tables: it fits BG/NBD
(``bgnbd.py``) and Gamma-Gamma (``gamma_gamma.py``) on the per-customer
summary (``summary.py``), scores every customer and nets the cost to serve.

Per customer, over a horizon of ``h`` time units cut into months
(``365/12`` days; the last one may be partial) ending at ``t_1 < ... < t_K = h``::

    expected_purchases       = E[X(h) | x, t_x, T]                      (BG/NBD)
    expected_avg_order_value = E[M | x, m]                               (Gamma-Gamma)
    clv = margin · E[M | x, m] · Σ_k (E[X(t_k)] − E[X(t_{k−1})]) / (1 + d)^(t_k / month)

with ``d`` the discount rate per month. This is lifetimes'
``GammaGammaFitter.customer_lifetime_value(..., time=months, discount_rate=d)``
with ``freq="W"``; with ``freq="D"`` lifetimes takes a month as 30 days.

Kernel and merge (SPEC §8). The fits depend on the customers only through the distinct
``(x, t_x, T)`` and ``(x, m)`` values: :func:`fit_counts` (the kernel) counts the
customers of each distinct value in a set of whole customers, :func:`fit_from_counts`
fits on the counts summed over the sets (a weighted likelihood; the same fit as on
every customer, ``bgnbd.distinct_rows``). The group table's sums are exact:
:func:`sum_parts` (the kernel) splits each value into an integer mantissa and its
binary exponent and sums the mantissas per group and exponent, :func:`merge_sums` adds
the parts of any sets and rounds once, so the sums are the correctly rounded sums
whatever the order or the split of the customers. :func:`fit_models` and
:func:`by_group` are the merge of one set holding every customer; the Spark engine runs
the kernels on its executors (``retcalc.engines.spark.clv_remote``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from retcalc.errors import InputError
from retcalc.metrics.clv import bgnbd, gamma_gamma
from retcalc.metrics.clv.bgnbd import BgNbdParams
from retcalc.metrics.clv.gamma_gamma import GammaGammaParams
from retcalc.metrics.clv.summary import RfmSummary, TimeUnit
from retcalc.metrics.events import CUSTOMER
from retcalc.periods import Window

#: Days in a month and a year for horizons, discounting and the cost to serve.
DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

SCORE_COLUMNS: tuple[str, ...] = (
    "p_alive",
    "expected_purchases",
    "expected_avg_order_value",
    "clv",
)
COST_COLUMNS: tuple[str, ...] = ("cost_to_serve", "clv_net")
GROUP_COLUMNS: tuple[str, ...] = (
    "customers",
    "repeat_customers",
    "spend_model_customers",
    "mean_p_alive",
    "expected_purchases",
    "clv",
    "clv_per_customer",
)
#: The columns :func:`by_group` sums per group (the table's), and with costs to serve.
SUMMED_COLUMNS: tuple[str, ...] = ("_repeat", "_spend", "p_alive", "expected_purchases", "clv")
SUMMED_COST_COLUMNS: tuple[str, ...] = ("_cost", "clv_net")
GROUP_COST_COLUMNS: tuple[str, ...] = (
    "customers_with_cost",
    "cost_to_serve",
    "clv_net",
    "clv_net_per_customer",
    "net_clv_negative",
)


@dataclass(frozen=True)
class ModelParams:
    """Both fitted models and the time unit their parameters are in."""

    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams | None
    time_unit: TimeUnit
    warnings: tuple[str, ...] = field(default=(), compare=False)
    penalizer: float = field(default=0.0, compare=False)
    spend_penalizer: float = field(default=0.0, compare=False)

    def in_unit(self, unit: TimeUnit) -> ModelParams:
        """The same models with time in ``unit`` (only BG/NBD's ``alpha`` carries time)."""
        if unit is self.time_unit:
            return self
        factor = unit.days / self.time_unit.days
        return dataclasses.replace(self, bgnbd=self.bgnbd.rescaled(1.0 / factor), time_unit=unit)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: parameters, their standard errors, log-likelihoods,
        customer counts; a limit model's name under ``limit`` and its infinite or
        absent parameters as null."""
        b = self.bgnbd
        beta = b.parts[1] == "beta"
        section: dict[str, Any] = {
            "r": _finite(b.r),
            "alpha": _finite(b.alpha),
            "a": _finite(b.a) if beta else None,
            "b": _finite(b.b) if beta else None,
        }
        if b.limit is not None:
            section.update(limit=b.limit, rate=b.rate, dropout_probability=b.dropout_probability)
        section.update(log_likelihood=b.log_likelihood, customers=b.customers)
        if b.standard_errors is not None:
            section["standard_errors"] = dict(b.standard_errors)
        out: dict[str, Any] = {
            "time_unit": self.time_unit.value,
            "bgnbd": section,
            "gamma_gamma": None,
        }
        if self.gamma_gamma is not None:
            g = self.gamma_gamma
            spend: dict[str, Any] = {"p": _finite(g.p), "q": _finite(g.q), "v": _finite(g.v)}
            if g.limit is not None:
                spend.update(limit=g.limit, mean=g.mean)
            spend.update(log_likelihood=g.log_likelihood, customers=g.customers)
            if g.standard_errors is not None:
                spend["standard_errors"] = dict(g.standard_errors)
            out["gamma_gamma"] = spend
        if self.penalizer:
            out["penalizer"] = self.penalizer
        if self.spend_penalizer:
            out["spend_penalizer"] = self.spend_penalizer
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "parameters") -> ModelParams:
        """Read what :meth:`to_dict` wrote; a clear error naming what is missing or wrong."""

        def number(section: Mapping[str, Any], name: str, where: str) -> float:
            value = section.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{source}: {where}.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise InputError(f"{source}: {where}.{name} must be positive, got {value!r}")
            return float(value)

        def limit_of(section: Mapping[str, Any], where: str, known: tuple[str, ...]) -> str | None:
            value = section.get("limit")
            if value is not None and value not in known:
                raise InputError(
                    f"{source}: {where}.limit must be one of {', '.join(known)}, got {value!r}"
                )
            return value

        if not isinstance(data, Mapping):
            raise InputError(f"{source}: expected a JSON object with 'bgnbd' and 'gamma_gamma'")
        try:
            unit = TimeUnit(data.get("time_unit", "day"))
        except ValueError:
            raise InputError(
                f"{source}: time_unit must be 'day' or 'week', got {data.get('time_unit')!r}"
            ) from None
        section = data.get("bgnbd")
        if not isinstance(section, Mapping):
            raise InputError(f"{source}: no 'bgnbd' section with r, alpha, a, b")
        limit = limit_of(section, "bgnbd", tuple(bgnbd.LIMIT_PARTS))
        purchase, dropout = bgnbd.LIMIT_PARTS[limit] if limit else ("gamma", "beta")
        rate = number(section, "rate", "bgnbd") if purchase == "rate" else None
        r, alpha = (
            (math.inf, math.inf)
            if purchase == "rate"
            else (number(section, "r", "bgnbd"), number(section, "alpha", "bgnbd"))
        )
        a, b_ = (
            (number(section, "a", "bgnbd"), number(section, "b", "bgnbd"))
            if dropout == "beta"
            else (0.0 if dropout == "none" else math.inf, math.inf)
        )
        pi = None
        if dropout == "common":
            pi = number(section, "dropout_probability", "bgnbd")
            if pi >= 1:
                raise InputError(f"{source}: bgnbd.dropout_probability must be below 1, got {pi}")
        bg = BgNbdParams(
            r=r,
            alpha=alpha,
            a=a,
            b=b_,
            log_likelihood=section.get("log_likelihood"),
            customers=section.get("customers"),
            limit=limit,
            rate=rate,
            dropout_probability=pi,
        )
        gg_section = data.get("gamma_gamma")
        gg = None
        if gg_section is not None:
            if not isinstance(gg_section, Mapping):
                raise InputError(f"{source}: 'gamma_gamma' must hold p, q, v")
            spend_limit = limit_of(gg_section, "gamma_gamma", (gamma_gamma.COMMON_SPEND_RATE,))
            if spend_limit is not None:
                p = gg_section.get("p")
                gg = GammaGammaParams(
                    p=math.inf if p is None else number(gg_section, "p", "gamma_gamma"),
                    q=math.inf,
                    v=math.inf,
                    log_likelihood=gg_section.get("log_likelihood"),
                    customers=gg_section.get("customers"),
                    limit=spend_limit,
                    mean=number(gg_section, "mean", "gamma_gamma"),
                )
            else:
                gg = GammaGammaParams(
                    p=number(gg_section, "p", "gamma_gamma"),
                    q=number(gg_section, "q", "gamma_gamma"),
                    v=number(gg_section, "v", "gamma_gamma"),
                    log_likelihood=gg_section.get("log_likelihood"),
                    customers=gg_section.get("customers"),
                )
        return cls(bg, gg, unit)


def _finite(value: float) -> float | None:
    """``value``, or None (JSON null) when it is infinite (a limit model's parameter)."""
    return value if math.isfinite(value) else None


def _arrays(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        frame["frequency"].cast(pl.Float64).to_numpy(),
        frame["recency"].cast(pl.Float64).to_numpy(),
        frame["T"].cast(pl.Float64).to_numpy(),
        frame["monetary_value"].cast(pl.Float64).to_numpy(),
    )


#: :func:`fit_counts`' columns: ``_model`` 0 for a BG/NBD row (frequency, recency, T),
#: 1 for a Gamma-Gamma row of a repeat buyer (frequency, monetary_value); ``customers``.
FIT_COLUMNS: tuple[str, ...] = ("_model", "frequency", "recency", "T", "monetary_value")
FIT_SCHEMA: dict[str, pl.DataType] = {
    "_model": pl.Int64(),
    **{c: pl.Float64() for c in FIT_COLUMNS[1:]},
    "customers": pl.Int64(),
}


def fit_counts(summary: pl.LazyFrame) -> pl.LazyFrame:
    """The kernel of the fits: the customers of each distinct ``(x, t_x, T)`` and, for
    repeat buyers, ``(x, m)`` in per-customer summary rows (``summary.rfm_summary``), as
    :data:`FIT_COLUMNS` and ``customers``, in no order."""
    x = pl.col("frequency").cast(pl.Float64)
    purchases = summary.select(
        pl.lit(0, dtype=pl.Int64).alias("_model"),
        x.alias("frequency"),
        pl.col("recency").cast(pl.Float64),
        pl.col("T").cast(pl.Float64),
        pl.lit(None, dtype=pl.Float64).alias("monetary_value"),
    )
    spend = summary.filter(pl.col("frequency") > 0).select(
        pl.lit(1, dtype=pl.Int64).alias("_model"),
        x.alias("frequency"),
        pl.lit(None, dtype=pl.Float64).alias("recency"),
        pl.lit(None, dtype=pl.Float64).alias("T"),
        pl.col("monetary_value").cast(pl.Float64),
    )
    return (
        pl.concat([purchases, spend])
        .group_by(FIT_COLUMNS)
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )


def fit_models(
    summary: RfmSummary, *, spend: bool = True, penalizer: float = 0.0, spend_penalizer: float = 0.0
) -> ModelParams:
    """Fit BG/NBD on every customer and Gamma-Gamma on repeat buyers with a positive spend
    (:func:`fit_from_counts` of one set holding every customer)."""
    counts = fit_counts(summary.frame.lazy()).collect()
    return fit_from_counts(
        counts, summary.time_unit, spend=spend, penalizer=penalizer, spend_penalizer=spend_penalizer
    )


def fit_from_counts(
    counts: pl.DataFrame,
    time_unit: TimeUnit,
    *,
    spend: bool = True,
    penalizer: float = 0.0,
    spend_penalizer: float = 0.0,
) -> ModelParams:
    """Fit BG/NBD on every customer and Gamma-Gamma on repeat buyers with a positive spend,
    from :func:`fit_counts` summed per distinct value over any sets of whole customers.

    Repeat buyers whose ``monetary_value`` is 0 or negative (their repeat
    purchases were returned) are left out of the spend model, with a warning.
    ``penalizer`` and ``spend_penalizer``: lifetimes' ``penalizer_coef`` of the
    BG/NBD and the Gamma-Gamma fit. A fit whose maximum is at the boundary gives its
    limit model, with a note.
    """

    def arrays(model: int, *columns: str) -> list[np.ndarray]:
        rows = counts.filter(pl.col("_model") == model)
        return [rows[c].cast(pl.Float64).to_numpy() for c in columns] + [
            rows["customers"].cast(pl.Int64).to_numpy()
        ]

    x, t_x, T, w = arrays(0, "frequency", "recency", "T")
    bg = bgnbd.fit(x, t_x, T, weights=w, penalizer=penalizer)
    notes: list[str] = []
    if bg.limit is not None:
        notes.append(
            "the BG/NBD likelihood has its maximum at the boundary of the parameter space, "
            f"so the limit model is used: {bgnbd.describe_limit(bg.limit)}"
        )
    if not spend:
        return ModelParams(bg, None, time_unit, tuple(notes), penalizer)
    x, m, w = arrays(1, "frequency", "monetary_value")
    usable = m > 0
    left_out = int(w[~usable].sum())
    if left_out:
        notes.append(
            f"{left_out} repeat buyer{'s' if left_out != 1 else ''} with a net spend of 0 or less "
            "(returns) left out of the spend model"
        )
    gg = gamma_gamma.fit(x[usable], m[usable], weights=w[usable], penalizer=spend_penalizer)
    if gg.limit is not None:
        notes.append(gamma_gamma.describe_limit(gg))
    if gg.population_mean is None:
        notes.append(
            f"the spend model has q = {gg.q:.3g} ≤ 1, so the mean spend is not defined: "
            "expected_avg_order_value and clv are left empty"
        )
    return ModelParams(bg, gg, time_unit, tuple(notes), penalizer, spend_penalizer)


def duration_days(window: Window) -> float:
    """A ``--horizon`` such as ``26w``, ``6mo`` or ``1y`` in days (a month is 365/12 days)."""
    if window.count is None:
        raise ValueError("an unbounded window is not a horizon")
    per_unit = {"d": 1.0, "w": 7.0, "mo": DAYS_PER_MONTH, "q": 3 * DAYS_PER_MONTH}
    return window.count * per_unit.get(window.unit, DAYS_PER_YEAR)


def monthly_rate(yearly: float) -> float:
    """The monthly discount rate equivalent to ``yearly``: (1 + yearly)^(1/12) − 1."""
    return float((1.0 + yearly) ** (1.0 / 12.0) - 1.0)


def month_steps(horizon: float, month: float) -> list[float]:
    """Ends of the months that cover ``horizon`` (the last one cut at the horizon)."""
    count = max(1, math.ceil(horizon / month - 1e-9))
    return [min((k + 1) * month, horizon) for k in range(count)]


def score(
    summary: RfmSummary,
    params: ModelParams,
    *,
    horizon: float,
    margin: float = 1.0,
    discount_per_month: float = 0.0,
    month: float | None = None,
) -> pl.DataFrame:
    """Per customer: the summary plus :data:`SCORE_COLUMNS` (formulas in the module docstring).

    ``horizon`` and ``month`` are in the summary's time unit; ``month``
    defaults to 365/12 days.
    """
    model = params.in_unit(summary.time_unit)
    month = month if month is not None else DAYS_PER_MONTH / summary.time_unit.days
    x, t_x, T, m = _arrays(summary.frame)
    alive = bgnbd.p_alive(model.bgnbd, x, t_x, T)
    steps = month_steps(horizon, month)
    discounted = np.zeros(len(x))
    previous = np.zeros(len(x))
    for end, expected in zip(
        steps, bgnbd.expected_purchases_at(model.bgnbd, steps, x, t_x, T), strict=True
    ):
        discounted += (expected - previous) / (1.0 + discount_per_month) ** (end / month)
        previous = expected
    if model.gamma_gamma is not None:
        avg = gamma_gamma.expected_average_value(model.gamma_gamma, x, np.maximum(m, 0.0))
    else:
        avg = np.full(len(x), np.nan)
    value = margin * avg * discounted
    return summary.frame.with_columns(
        pl.Series("p_alive", alive),
        pl.Series("expected_purchases", previous),
        pl.Series("expected_avg_order_value", avg, nan_to_null=True),
        pl.Series("clv", value, nan_to_null=True),
    )


def customer_costs(customers: pl.LazyFrame) -> pl.LazyFrame:
    """``customer_id, cost_to_serve``: the first non-empty yearly cost of each customer."""
    return (
        customers.filter(pl.col("cost_to_serve").is_not_null())
        .group_by(CUSTOMER, maintain_order=True)
        .agg(pl.col("cost_to_serve").first())
    )


def net_of_cost(scored: pl.DataFrame, costs: pl.LazyFrame, *, years: float) -> pl.DataFrame:
    """Add ``cost_to_serve`` (yearly) and ``clv_net = clv − cost_to_serve × years``.

    Customers without a cost get empty ``cost_to_serve`` and ``clv_net``.
    """
    return (
        scored.lazy()
        .join(costs, on=CUSTOMER, how="left", maintain_order="left")
        .with_columns((pl.col("clv") - pl.col("cost_to_serve") * years).alias("clv_net"))
        .collect()
    )


#: :func:`sum_parts`' columns besides the keys: the column summed, a binary exponent,
#: the sum of the mantissas of its values with that exponent, and their number.
PART_SCHEMA: dict[str, pl.DataType] = {
    "_column": pl.String(),
    "_exp": pl.Int64(),
    "_mant": pl.Int128(),
    "_count": pl.Int64(),
}
PART_COLUMNS: tuple[str, ...] = tuple(PART_SCHEMA)
#: The exponents of +inf and -inf (their mantissa 1), which make the sum infinite.
INFINITE = (1 << 20, (1 << 20) + 1)


def sum_parts(frame: pl.DataFrame, keys: Sequence[str], columns: Sequence[str]) -> pl.DataFrame:
    """The kernel of exact sums: per group of ``keys``, float column and binary exponent,
    the sum of the integer mantissas of the column's non-empty values (each value is
    ``mantissa · 2^(exponent − 53)`` exactly) and their count, as :data:`PART_COLUMNS`.
    Parts of any sets of rows add up, per group, column and exponent, to the whole's."""
    keys = list(keys)
    parts = []
    for column in columns:
        values = frame[column].cast(pl.Float64).to_numpy()
        known = ~np.isnan(values)
        infinite = np.isinf(values)
        with np.errstate(invalid="ignore"):
            fraction, exponent = np.frexp(np.where(known & ~infinite, values, 0.0))
        fraction = np.where(infinite, 2.0**-53, fraction)
        exponent = np.where(infinite, np.where(values > 0, INFINITE[0], INFINITE[1]), exponent)
        part = pl.DataFrame(
            [
                pl.Series("_exp", exponent, dtype=pl.Int64),
                # exact: a float's fraction times 2^53 is an integer below 2^53
                pl.Series("_mant", np.ldexp(fraction, 53), dtype=pl.Float64)
                .cast(pl.Int64)
                .cast(pl.Int128),
                pl.Series("_count", known, dtype=pl.Int64),
            ]
        )
        if keys:
            part = pl.concat([frame.select(keys), part], how="horizontal")
        # Summed per column as it is made: one row per customer is held for one column
        # at a time, not for every column at once.
        parts.append(
            part.filter(pl.Series(known))
            .group_by([*keys, "_exp"])
            .agg(pl.col("_mant").sum(), pl.col("_count").sum())
            .select(*keys, pl.lit(column).alias("_column"), *PART_COLUMNS[1:])
        )
        del part
    if not parts:
        return pl.DataFrame(schema={**frame.select(keys).schema, **PART_SCHEMA})
    return pl.concat(parts)


def merge_sums(
    parts: pl.DataFrame,
    keys: Sequence[str],
    columns: Sequence[str],
    groups: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The merge of exact sums: the groups (sorted by ``keys``; one group without keys;
    ``groups`` when given) and, per column, each group's correctly rounded sum of its
    non-empty values and their count, from :func:`sum_parts` of any sets of rows (parts
    with the same group, column and exponent added first)."""
    keys = list(keys)
    if groups is None:
        groups = parts.select(keys).unique().sort(keys) if keys else pl.DataFrame()
    size = max(groups.height, 1)
    if keys:
        coded = parts.join(groups.with_row_index("_g"), on=keys, how="left", nulls_equal=True).drop(
            keys
        )
    else:
        coded = parts.with_columns(pl.lit(0, dtype=pl.UInt32).alias("_g"))
    summed = coded.group_by("_g", "_column", "_exp").agg(
        pl.col("_mant").sum(), pl.col("_count").sum()
    )
    out = {}
    for column in columns:
        rows = summed.filter(pl.col("_column") == column)
        totals = [0] * size
        counts = np.zeros(size, dtype=np.int64)
        lowest: list[int | None] = [None] * size
        mantissas: list[list[tuple[int, int]]] = [[] for _ in range(size)]
        # One row per group and exponent present (a few dozen per group), not per customer.
        for g, exp, mant, count in rows.select("_g", "_exp", "_mant", "_count").iter_rows():
            mantissas[g].append((exp, int(mant)))
            counts[g] += count
            lowest[g] = exp if lowest[g] is None else min(lowest[g], exp)
        values = np.zeros(size)
        for g in range(size):
            base = lowest[g]
            if base is None:
                continue
            infinite = [exp for exp, _ in mantissas[g] if exp in INFINITE]
            if infinite:  # +inf, -inf, or both (nan), as a float sum gives
                values[g] = sum(np.inf if exp == INFINITE[0] else -np.inf for exp in infinite)
                continue
            totals[g] = sum(mant << (exp - base) for exp, mant in mantissas[g])
            shift = base - 53
            # int / int is correctly rounded in Python, so is float(int)
            values[g] = totals[g] / (1 << -shift) if shift < 0 else float(totals[g] << shift)
        out[column] = (values, counts)
    return groups, out


def group_sums(
    frame: pl.DataFrame, keys: Sequence[str], columns: Sequence[str]
) -> tuple[pl.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The groups of ``frame`` (sorted by ``keys``; one group without keys) and, per float
    column, each group's sum (exact, correctly rounded: :func:`sum_parts`,
    :func:`merge_sums`) and count of non-empty values."""
    keys = list(keys)
    groups = frame.select(keys).unique().sort(keys) if keys else pl.DataFrame()
    return merge_sums(sum_parts(frame, keys, columns), keys, columns, groups)


def by_group(scored: pl.DataFrame, keys: Sequence[str], *, years: float | None) -> pl.DataFrame:
    """One row per group (one in all without keys): :data:`GROUP_COLUMNS`, and the cost columns.

    ``clv`` and ``expected_purchases`` are sums, ``clv_per_customer`` and
    ``mean_p_alive`` means (empty when no customer has a value);
    ``cost_to_serve`` is the summed cost over the horizon of the customers with
    a known cost, ``clv_net`` the sum of their net CLVs, and
    ``net_clv_negative`` flags a group whose ``clv_net`` is below 0.
    """
    frame, columns, with_cost = summed_columns(scored, years=years)
    groups, sums = group_sums(frame, keys, columns)
    return group_table(groups, sums, keys, with_cost=with_cost)


def summed_columns(
    scored: pl.DataFrame, *, years: float | None
) -> tuple[pl.DataFrame, list[str], bool]:
    """:func:`by_group`'s kernel side: the scored customers with the columns whose sums
    per group make the table, those columns, and whether the cost columns are among them."""
    with_cost = years is not None and "clv_net" in scored.columns
    frame = scored.with_columns(
        (pl.col("frequency") > 0).cast(pl.Float64).alias("_repeat"),
        ((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
        .cast(pl.Float64)
        .alias("_spend"),
    )
    columns = list(SUMMED_COLUMNS)
    if with_cost:
        assert years is not None
        frame = frame.with_columns((pl.col("cost_to_serve") * years).alias("_cost"))
        columns += SUMMED_COST_COLUMNS
    return frame, columns, with_cost


def group_table(
    groups: pl.DataFrame,
    sums: Mapping[str, tuple[np.ndarray, np.ndarray]],
    keys: Sequence[str],
    *,
    with_cost: bool,
) -> pl.DataFrame:
    """:func:`by_group`'s merge side: the table from the groups and the sums of
    :func:`summed_columns`' columns (:func:`merge_sums`)."""
    keys = list(keys)

    def total(column: str) -> pl.Series:
        value, count = sums[column]
        return pl.Series(np.where(count > 0, value, np.nan), nan_to_null=True)

    def mean(column: str) -> pl.Series:
        value, count = sums[column]
        with np.errstate(all="ignore"):
            return pl.Series(
                np.where(count > 0, value / np.maximum(count, 1), np.nan), nan_to_null=True
            )

    count = sums["_repeat"][1]
    columns_out = [
        pl.Series("customers", count, dtype=pl.Int64),
        pl.Series("repeat_customers", sums["_repeat"][0].round(), dtype=pl.Int64),
        pl.Series("spend_model_customers", sums["_spend"][0].round(), dtype=pl.Int64),
        mean("p_alive").alias("mean_p_alive"),
        total("expected_purchases").alias("expected_purchases"),
        total("clv").alias("clv"),
        mean("clv").alias("clv_per_customer"),
    ]
    if with_cost:
        columns_out += [
            pl.Series("customers_with_cost", sums["clv_net"][1], dtype=pl.Int64),
            total("_cost").round(6).alias("cost_to_serve"),
            total("clv_net").alias("clv_net"),
            mean("clv_net").alias("clv_net_per_customer"),
        ]
    out = pl.DataFrame(columns_out)
    if keys:
        out = pl.concat([groups, out], how="horizontal")
    if with_cost:
        out = out.with_columns((pl.col("clv_net") < 0).alias("net_clv_negative"))
    return out
