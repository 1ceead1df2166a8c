"""Retention forecasts (SPEC §9, ``retcalc forecast``): the shifted-beta-geometric model
(:mod:`retcalc.metrics.sbg`) fitted to each cohort's survivors, and pooled.

**Survivors.** A cohort is the customers whose first purchase (or signup) is in one
period ``i`` (SPEC §2.5). A member *survives* to offset ``k`` when they were active
(SPEC §2.1 or §2.2) at every period boundary from the end of the cohort's period to
the start of offset ``k``'s period, ``b[i+1], ..., b[i+k]``: once lost, a customer
stays lost, and one who lapses and comes back later is not a survivor again.
``survivors`` at offset 0 is the whole cohort. Offset ``k`` is observed when
``b[i+k]`` is at or before the end of the data (the period before it complete);
cohorts whose own period is not complete are left out.

**Model clock.** On the activity basis a purchase keeps its customer active for the
window ``W`` after it, so no member of cohort ``i`` can be lost before offset
``m_i`` + 1, ``m_i`` the boundaries after ``b[i]`` within ``W`` of it (``m_i = 12``
with ``--period month`` and the default 12-month window; 1 with a one-period
window). The model's ``t`` starts there: ``S_i(k) = S(max(0, k - m_i))``. On the
subscription basis ``m_i = 0``.

**Fits.** Per ``--by`` group, one pooled fit over every cohort's series (each to its
own last observed offset), and one fit per cohort with at least two observed
periods on the model's clock and a customer lost; a cohort whose
own fit is impossible (fewer periods, nobody lost) or ends on a bound uses the pooled parameters (``fit``).

**Forecasts.** For a cohort of ``n`` with ``s_K`` survivors at its last observed
offset ``K``: ``survivors_forecast`` = ``n · S_i(k)`` for ``k <= K`` (the fitted
curve) and ``s_K · S_i(k) / S_i(K)`` after (projected from the last count), and
``retention_rate_forecast`` = ``S_i(k) / S_i(k - 1)``. Every cohort runs to offset
``K_max + horizon`` (``K_max`` the oldest cohort's last observed offset): the
triangle's empty corner filled, and ``horizon`` offsets beyond. Pooled rows
(``cohort`` null) carry the pooled ``S`` and ``r`` and, observed, the retention of
the cohorts observed at ``k``: Σ survivors_k / Σ survivors_{k-1}.

**Intervals** (``ci``): a parametric bootstrap. Each fit's data is drawn again from
the fitted model (every series' lifetimes, censored where it was observed, as one
multinomial draw), refitted, and the forecasts recomputed; the interval is the
``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles over the resamples. It covers the
uncertainty of the parameters (of the expected survivors), not the chance of which
customers leave.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from retcalc.errors import InputError, UsageError
from retcalc.metrics import sbg
from retcalc.metrics.activity import CUSTOMER
from retcalc.metrics.common import Basis, Prepared

FORECAST_COLUMNS: tuple[str, ...] = (
    "cohort",
    "offset",
    "period_start",
    "cohort_size",
    "survivors",
    "retention_rate",
    "survival_rate",
    "observed",
    "fit",
    "survivors_forecast",
    "retention_rate_forecast",
    "survival_rate_forecast",
)
#: The forecasts that get ``_lo`` and ``_hi`` with ``ci``.
FORECASTS: tuple[str, ...] = (
    "survivors_forecast",
    "retention_rate_forecast",
    "survival_rate_forecast",
)
INTERVAL_COLUMNS: tuple[str, ...] = tuple(f"{c}_{end}" for c in FORECASTS for end in ("lo", "hi"))
RATE_COLUMNS: tuple[str, ...] = (
    "retention_rate",
    "survival_rate",
    "retention_rate_forecast",
    "survival_rate_forecast",
    *(c for c in INTERVAL_COLUMNS if "rate" in c),
)

#: How many cohort names a note lists before "and N more".
_NAMED = 6


@dataclass
class Cohort:
    """One cohort's observed survivors (offsets ``0..K``) and its fit."""

    key: tuple[Any, ...]  # the --by values
    start: dt.date
    survivors: NDArray[np.float64]
    lead: int  # m_i: offsets before the model's clock starts
    own: sbg.Fit | None = None

    @property
    def size(self) -> int:
        return int(self.survivors[0])

    @property
    def last(self) -> int:
        """K: the last observed offset."""
        return self.survivors.size - 1

    def series(self) -> NDArray[np.float64]:
        """The survivors on the model's clock: offsets ``m_i..K``."""
        return self.survivors[self.lead :]


@dataclass
class Forecast:
    """What :func:`forecast_table` returns: the table, the fitted parameters (as
    ``--params-out`` writes them), and what to say on stderr."""

    table: pl.DataFrame
    params: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _label(key: tuple[Any, ...], keys: Sequence[str], start: dt.date | None = None) -> str:
    parts = [f"{k}={v}" for k, v in zip(keys, key, strict=True)]
    if start is not None:
        parts.insert(0, start.isoformat())
    return " ".join(parts) if parts else "all cohorts"


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")


def survivor_counts(prep: Prepared) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Per group and cohort: ``first_idx, capped, customers`` (members whose survival ends
    at offset ``capped``, capped at the last observed offset), the cohorts left out
    (``first_idx, cohort_size``, period not complete), and the customers who lapsed and
    came back later (reactivations)."""
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    grid = prep.grid
    last = int((grid.bounds <= prep.data_end).sum()) - 1  # J: the last observed boundary
    members = prep.first_period.select(*group, "first_idx").filter(
        pl.col("first_idx").is_between(0, grid.n_periods - 1)
    )
    first = pl.col("first_idx")
    per = (
        members.join(prep.runs.select(*group, "P", "Q"), on=group, how="left", nulls_equal=True)
        .group_by([*group, "first_idx"])
        .agg(
            # The run that starts at the end of the cohort's period, if any.
            pl.col("Q").filter(pl.col("P") == first + 1).max().alias("_q"),
            ((pl.col("P") > first + 1) & (pl.col("P") <= last)).any().alias("_back"),
        )
        .with_columns(
            (pl.col("_q") - 1 - first).fill_null(0).alias("_alive_to"),
            (pl.lit(last) - first).alias("_last"),
        )
        .collect()
    )
    kept = per.filter(pl.col("_last") >= 1)
    counts = (
        kept.group_by([*keys, "first_idx"])
        .agg(pl.len().alias("_n"))
        .join(
            kept.with_columns(pl.min_horizontal("_alive_to", "_last").alias("capped"))
            .group_by([*keys, "first_idx", "capped", "_last"])
            .agg(pl.len().cast(pl.Int64).alias("customers")),
            on=[*keys, "first_idx"],
            nulls_equal=True,
        )
        .drop("_n")
        .sort([*keys, "first_idx", "capped"])
    )
    left_out = (
        per.filter(pl.col("_last") < 1)
        .group_by([*keys, "first_idx"])
        .agg(pl.len().cast(pl.Int64).alias("cohort_size"))
    )
    return counts, left_out, int(kept["_back"].sum())


def _leads(prep: Prepared) -> NDArray[np.int64]:
    """``m_i`` per cohort index ``i`` (see the module docstring)."""
    grid = prep.grid
    n = grid.n_periods
    if prep.basis is Basis.subscription:
        return np.zeros(n, dtype=np.int64)
    if grid.starts is None:
        raise UsageError(
            "forecast on the activity basis needs a bounded --active-window: with 'all' a "
            "customer is never lost, so there is no retention to model"
        )
    bounds = grid.bounds.to_numpy()
    starts = grid.starts.to_numpy()
    covered = np.searchsorted(starts, bounds[:n], side="right")
    return np.maximum(covered - np.arange(n) - 1, 0).astype(np.int64)


def _cohorts(prep: Prepared, counts: pl.DataFrame) -> list[Cohort]:
    keys = list(prep.keys)
    leads = _leads(prep)
    bounds = prep.grid.bounds
    cohorts = []
    for (*key, idx, last), part in counts.group_by(
        [*keys, "first_idx", "_last"], maintain_order=True
    ):
        hist = np.zeros(int(last) + 1)
        np.add.at(hist, part["capped"].to_numpy(), part["customers"].to_numpy())
        survivors = np.cumsum(hist[::-1])[::-1]  # alive at k = survival ends at k or later
        cohorts.append(Cohort(tuple(key), bounds[int(idx)], survivors, int(leads[int(idx)])))
    return cohorts


def _pooled_counts(cohorts: Sequence[Cohort]) -> sbg.Counts:
    return sbg.Counts.from_survivors([c.series() for c in cohorts])


def _can_fit_alone(cohort: Cohort) -> bool:
    series = cohort.series()
    return series.size >= 3 and series[-1] < series[0]


@dataclass
class _Draws:
    """a and b: the point estimate (index 0) and the bootstrap resamples after it."""

    alpha: NDArray[np.float64]
    beta: NDArray[np.float64]


def _draws(
    fitted: sbg.Fit, counts: sbg.Counts, resamples: int, rng: np.random.Generator | None
) -> _Draws:
    if rng is None or not resamples:
        return _Draws(np.array([fitted.alpha]), np.array([fitted.beta]))
    alphas, betas = sbg.refit(counts.resampled(fitted.alpha, fitted.beta, rng, resamples), fitted)
    return _Draws(np.append(fitted.alpha, alphas), np.append(fitted.beta, betas))


def _curve(draws: _Draws, lead: int, length: int) -> NDArray[np.float64]:
    """``S_i(k)`` for ``k = 0..length-1``, one row per draw."""
    t = np.maximum(np.arange(length) - lead, 0).astype(np.float64)
    return np.exp(sbg.log_survival(draws.alpha[:, None], draws.beta[:, None], t[None, :]))  # type: ignore[arg-type]


def _rates(curve: NDArray[np.float64]) -> NDArray[np.float64]:
    """``S(k) / S(k - 1)``, NaN at ``k = 0``."""
    out = np.full(curve.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 1:] = curve[:, 1:] / curve[:, :-1]
    return out


def _columns(
    name: str, values: NDArray[np.float64], level: float | None
) -> dict[str, NDArray[np.float64]]:
    """The point forecast (row 0) and, with ``level``, its bootstrap interval."""
    out = {name: values[0]}
    if level is not None:
        rest = values[1:] if values.shape[0] > 1 else values[:1]
        with warnings.catch_warnings():  # an offset without a value (k = 0's rate): NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(rest, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"{name}_lo"], out[f"{name}_hi"] = lo, hi
    return out


def _cohort_rows(
    cohort: Cohort, draws: _Draws | None, fit_name: str | None, length: int, level: float | None
) -> dict[str, Any]:
    offsets = np.arange(length)
    last = cohort.last
    observed = np.full(length, np.nan)
    observed[: last + 1] = cohort.survivors
    previous = np.concatenate([[np.nan], observed[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(previous > 0, observed / previous, np.nan)
    row: dict[str, Any] = {
        "offset": offsets,
        "cohort_size": np.full(length, cohort.size),
        "survivors": observed,
        "retention_rate": rate,
        "survival_rate": observed / cohort.size,
        "observed": offsets <= last,
        "fit": [fit_name] * length,
    }
    if draws is None:
        blank = np.full((1, length), np.nan)
        for name in FORECASTS:
            row.update(_columns(name, blank, level))
        return row
    curve = _curve(draws, cohort.lead, length)
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = cohort.survivors[-1] * curve / curve[:, [last]]
    expected = np.where(offsets <= last, cohort.size * curve, projected)
    row.update(_columns("survivors_forecast", expected, level))
    row.update(_columns("retention_rate_forecast", _rates(curve), level))
    row.update(_columns("survival_rate_forecast", expected / cohort.size, level))
    return row


def _pooled_rows(
    cohorts: Sequence[Cohort], draws: _Draws | None, length: int, level: float | None
) -> dict[str, Any]:
    offsets = np.arange(length)
    now = np.zeros(length)
    before = np.zeros(length)
    for c in cohorts:
        now[1 : c.last + 1] += c.survivors[1:]
        before[1 : c.last + 1] += c.survivors[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(before > 0, now / before, np.nan)
    last = max(c.last for c in cohorts)
    survival = np.cumprod(np.where(offsets == 0, 1.0, rate))
    row: dict[str, Any] = {
        "offset": offsets,
        "cohort_size": np.full(length, sum(c.size for c in cohorts)),
        "survivors": np.full(length, np.nan),
        "retention_rate": rate,
        "survival_rate": np.where(offsets <= last, survival, np.nan),
        "observed": offsets <= last,
        "fit": ["pooled" if draws is not None else None] * length,
    }
    blank = np.full((1, length), np.nan)
    row.update(_columns("survivors_forecast", blank, level))
    if draws is None:
        row.update(_columns("retention_rate_forecast", blank, level))
        row.update(_columns("survival_rate_forecast", blank, level))
        return row
    curve = _curve(draws, min(c.lead for c in cohorts), length)
    row.update(_columns("retention_rate_forecast", _rates(curve), level))
    row.update(_columns("survival_rate_forecast", curve, level))
    return row


def forecast_table(
    prep: Prepared,
    *,
    horizon: int,
    ci: float | None = None,
    resamples: int = 200,
    seed: int = 0,
) -> Forecast:
    """The forecast table (see the module docstring): per ``--by`` group, every cohort's
    rows for offsets ``0..K_max + horizon`` and the pooled rows (``cohort`` null)."""
    keys = list(prep.keys)
    counts, left_out, came_back = survivor_counts(prep)
    notes: list[str] = []
    if left_out.height:
        names = [
            _label(tuple(r[:-2]), keys, prep.grid.bounds[r[-2]])
            for r in left_out.sort([*keys, "first_idx"]).rows()
        ]
        notes.append(
            f"left out, their period not complete at the data end: the cohort of {_listed(names)}"
        )
    cohorts = _cohorts(prep, counts)
    if not cohorts:
        raise InputError(
            "no cohort has a complete period after its own: nothing to fit the retention "
            "model to (give more data, a shorter --period, or a later --as-of)"
        )
    if came_back:
        notes.append(
            f"{came_back} customers of the fitted cohorts lapsed and came back later "
            "(reactivations): the forecast counts a customer as lost from their first lapse, "
            "so survivors never grow and they are not counted again"
        )
    lead = max(c.lead for c in cohorts)
    if lead >= 2:
        notes.append(
            f"with --active-window {prep.grid.window} every customer stays active for up to "
            f"{lead} {prep.grid.period}s after their first purchase, so no one can be lost "
            "before then and the model starts there; a window of one period (e.g. "
            "--active-window 1mo with --period month) measures lapses sooner"
        )
    length = max(c.last for c in cohorts) + horizon + 1
    rng = np.random.default_rng(seed) if ci is not None else None
    groups: dict[tuple[Any, ...], list[Cohort]] = {}
    for c in cohorts:
        groups.setdefault(c.key, []).append(c)

    frames: list[pl.DataFrame] = []
    pooled_params: list[dict[str, Any]] = []
    cohort_params: list[dict[str, Any]] = []
    on_pooled: list[str] = []
    at_bound: list[str] = []
    pooled_at_bound: list[str] = []
    failed: list[str] = []
    for key, members in groups.items():
        tag = dict(zip(keys, key, strict=True))
        data = _pooled_counts(members)
        pooled: sbg.Fit | None = None
        pooled_draws: _Draws | None = None
        if data.ends.size and data.lost.sum() > 0:
            pooled = sbg.fit(data)
            pooled_draws = _draws(pooled, data, resamples, rng)
            pooled_params.append({**tag, **pooled.to_dict()})
            if pooled.at_boundary:
                pooled_at_bound.append(_label(key, keys))
        else:
            failed.append(_label(key, keys))
        for c in members:
            draws, name = pooled_draws, "pooled" if pooled is not None else None
            if _can_fit_alone(c):
                own_data = sbg.Counts.from_survivors([c.series()])
                own = sbg.fit(own_data)
                if own.at_boundary and pooled is not None:
                    at_bound.append(_label(key, keys, c.start))
                else:
                    c.own = own
                    draws, name = _draws(own, own_data, resamples, rng), "cohort"
            elif name == "pooled":
                on_pooled.append(_label(key, keys, c.start))
            chosen = c.own or pooled
            cohort_params.append(
                {
                    **tag,
                    "cohort": c.start.isoformat(),
                    "fit": name,
                    "alpha": chosen.alpha if chosen else None,
                    "beta": chosen.beta if chosen else None,
                    "log_likelihood": c.own.log_likelihood if c.own else None,
                    "n": c.size,
                    "periods": c.last - c.lead,
                    "lead": c.lead,
                }
            )
            row = _cohort_rows(c, draws, name, length, ci)
            frames.append(_frame(row, keys, key, c.start, length))
        frames.append(
            _frame(_pooled_rows(members, pooled_draws, length, ci), keys, key, None, length)
        )
    if len(failed) == len(groups):
        raise InputError(
            "no customer was lost in the observed periods: nothing to fit the retention "
            "model to (a longer history, a shorter --active-window, or the subscription basis)"
        )
    if failed:
        notes.append(f"no customer lost, no forecast: {_listed(failed)}")
    if on_pooled:
        notes.append(
            "forecast with the pooled parameters, too few periods or nobody lost to fit alone: "
            + _listed(on_pooled)
        )
    edge = (
        "at the edge of the parameters (alpha or beta 1e-4 or 1e4: the data cannot tell them apart)"
    )
    if at_bound:
        notes.append(
            f"forecast with the pooled parameters, their own fit {edge}: {_listed(at_bound)}"
        )
    if pooled_at_bound:
        notes.append(f"the pooled fit is {edge}: {_listed(pooled_at_bound)}")
    if ci is not None:
        notes.append(
            f"intervals at {ci:g}: parametric bootstrap, {resamples} resamples, seed {seed}"
        )
    key_types = prep.first_period.collect_schema()  # an empty key alone would read as Null
    table = pl.concat(frames, how="vertical_relaxed").with_columns(
        *(pl.col(k).cast(key_types[k]) for k in keys),
        pl.col("period_start").dt.offset_by(pl.format(_step(prep), pl.col("offset"))),
    )
    order = [*keys, *FORECAST_COLUMNS, *(INTERVAL_COLUMNS if ci is not None else ())]
    table = table.select(order).sort([*keys, "cohort", "offset"], nulls_last=True)
    params = {
        "model": "shifted-beta-geometric",
        "basis": prep.basis.value,
        "period": prep.grid.period.value,
        "pooled": pooled_params,
        "cohorts": cohort_params,
    }
    return Forecast(table, params, notes)


def _step(prep: Prepared) -> str:
    """``offset_by`` text for ``{}`` periods (the offset goes in the braces)."""
    return "{}" + prep.grid.period.every[1:]


def _frame(
    row: dict[str, Any],
    keys: Sequence[str],
    key: tuple[Any, ...],
    start: dt.date | None,
    length: int,
) -> pl.DataFrame:
    columns: dict[str, Any] = {k: [v] * length for k, v in zip(keys, key, strict=True)}
    columns["cohort"] = pl.Series([start] * length, dtype=pl.Date)
    columns["period_start"] = pl.Series([start] * length, dtype=pl.Date)
    for name, values in row.items():
        if name in ("offset", "cohort_size"):
            columns[name] = pl.Series(np.asarray(values), dtype=pl.Int64)
        elif name == "survivors":
            columns[name] = pl.Series(np.asarray(values), nan_to_null=True).cast(pl.Int64)
        elif name == "observed":
            columns[name] = pl.Series(np.asarray(values), dtype=pl.Boolean)
        elif name == "fit":
            columns[name] = pl.Series(values, dtype=pl.String)
        else:
            columns[name] = pl.Series(np.asarray(values, dtype=np.float64), nan_to_null=True)
    return pl.DataFrame(columns)
