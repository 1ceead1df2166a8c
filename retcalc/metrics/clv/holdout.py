"""Calibration/holdout check of the BG/NBD model (``--holdout``).

The model is fitted on the purchases before the calibration end ``c = end −
holdout`` (the summary observed up to ``c − 1 day``), then asked how many
repeat purchase days each of those customers makes in the holdout
``[c, end)`` (``t = end − c`` in the time unit). Customers are grouped by
their calibration ``frequency`` (0, 1, ..., 6, 7+); per group and in total:

- ``customers``; ``actual_purchases`` = their purchase days in the holdout;
- ``predicted_purchases`` = Σ E[X(t) | x, t_x, T];
- ``actual_per_customer``, ``predicted_per_customer`` (the calibration plot);
- ``error`` = predicted_per_customer − actual_per_customer;
- ``mean_absolute_error`` = mean over the customers of |predicted − actual|.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError, UsageError
from retcalc.metrics.clv import ModelParams, fit_models, group_sums
from retcalc.metrics.clv.bgnbd import expected_purchases
from retcalc.metrics.clv.summary import TimeUnit, rfm_summary
from retcalc.metrics.events import CUSTOMER, events_of, purchase_days
from retcalc.periods import Window, observed_end

TOP_GROUP = 7
HOLDOUT_COLUMNS: tuple[str, ...] = (
    "frequency",
    "customers",
    "actual_purchases",
    "predicted_purchases",
    "actual_per_customer",
    "predicted_per_customer",
    "error",
    "mean_absolute_error",
)


@dataclass(frozen=True)
class Holdout:
    """The comparison table and the model fitted on the calibration period."""

    table: pl.DataFrame
    params: ModelParams
    calibration_end: dt.date
    end: dt.date


def holdout_table(
    orders: Rows | pl.LazyFrame,
    *,
    holdout: Window,
    as_of: dt.date | None = None,
    time_unit: TimeUnit = TimeUnit.day,
    params: ModelParams | None = None,
    penalizer: float = 0.0,
) -> Holdout:
    """Predicted versus actual holdout purchases by calibration frequency (module docstring).

    The data ends (exclusive) at ``as_of``, else the day after the last
    purchase; the calibration ends ``holdout`` before that (calendar
    arithmetic). With ``params`` the model is not refitted; ``penalizer`` is
    lifetimes' ``penalizer_coef`` for the fit.
    """
    orders = as_rows(orders)
    days = purchase_days(events_of(orders, as_of), (), keyed=orders.keyed).collect()
    first, last = days.select(pl.col("day").min().alias("lo"), pl.col("day").max().alias("hi")).row(
        0
    )
    if first is None:
        raise InputError("no purchases: every row is a return or a cancellation")
    end = observed_end(last, as_of)
    calibration_end: dt.date = pl.select(
        pl.lit(end, dtype=pl.Date).dt.offset_by(holdout.offset())
    ).item()
    if calibration_end <= first:
        raise UsageError(
            f"--holdout {holdout} leaves no calibration period: the data runs from {first} "
            f"to {end - dt.timedelta(days=1)}"
        )
    calibration = rfm_summary(orders, as_of=calibration_end, time_unit=time_unit)
    model = params or fit_models(calibration, spend=False, penalizer=penalizer)
    frame = calibration.frame
    x = frame["frequency"].cast(pl.Float64).to_numpy()
    t = (end - calibration_end).days / time_unit.days
    model_bg = model.in_unit(time_unit).bgnbd
    predicted = expected_purchases(
        model_bg,
        t,
        x,
        frame["recency"].cast(pl.Float64).to_numpy(),
        frame["T"].cast(pl.Float64).to_numpy(),
    )
    later = (
        days.lazy()
        .filter(pl.col("day") >= calibration_end)
        .group_by(CUSTOMER)
        .agg(pl.len().cast(pl.Int64).alias("actual"))
    )
    per_customer = (
        frame.lazy()
        .select(CUSTOMER, "frequency")
        .with_columns(pl.Series("predicted", np.asarray(predicted)))
        .join(later, on=CUSTOMER, how="left", maintain_order="left")
        .with_columns(
            pl.col("actual").fill_null(0),
            pl.col("frequency").clip(upper_bound=TOP_GROUP).alias("_order"),
        )
        .with_columns((pl.col("predicted") - pl.col("actual")).abs().alias("_abs"))
    )
    groups, sums = group_sums(per_customer.collect(), ["_order"], ["actual", "predicted", "_abs"])
    labels = [f"{TOP_GROUP}+" if g >= TOP_GROUP else str(g) for g in groups["_order"]]
    # per group, then the total as the last row
    n, act, pred, err = (
        np.append(column, column.sum())
        for column in (sums["actual"][1], sums["actual"][0], sums["predicted"][0], sums["_abs"][0])
    )
    table = pl.DataFrame(
        {
            "frequency": [*labels, "total"],
            "customers": n.astype(np.int64),
            "actual_purchases": act.round().astype(np.int64),
            "predicted_purchases": pred,
            "actual_per_customer": act / n,
            "predicted_per_customer": pred / n,
            "error": pred / n - act / n,
            "mean_absolute_error": err / n,
        }
    ).select(HOLDOUT_COLUMNS)
    return Holdout(table, model, calibration_end, end)
