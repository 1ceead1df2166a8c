"""The metric functions give the same tables on the Polars engine's frame and on the
frame Spark reduced (``load_orders_spark``), over periods, windows and --by.

Each input is read once per reduction level on Spark (the slow part); the
metric grid then runs on the driver in Polars, so it is cheap to widen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from retcalc.engines import Holds, Level, Rows
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.io.load import ROW
from retcalc.metrics.choices import parse_brackets
from retcalc.metrics.churn import churn_table
from retcalc.metrics.clv import historical
from retcalc.metrics.clv.formula import formula_table
from retcalc.metrics.clv.summary import rfm_summary
from retcalc.metrics.cohorts import Mode, cohort_table
from retcalc.metrics.common import Params, prepare_activity
from retcalc.metrics.kpis import kpi_table
from retcalc.metrics.retention import retention_table
from retcalc.metrics.returns import returns_table
from retcalc.periods import Period, parse_window
from tests.spark.compare import assert_same_table
from tests.spark.conftest import SAMPLE, needs_spark
from tests.spark.generated import shop

# One worker runs every Spark test under pytest-xdist: one JVM, started once.
pytestmark = [needs_spark, pytest.mark.xdist_group("spark")]

INPUTS = {
    "sample": lambda d: SAMPLE / "orders.csv",
    "shop-csv": lambda d: d / "orders.csv",
    "shop-messy": lambda d: d / "orders_messy.csv",
    "shop-parquet": lambda d: d / "orders.parquet",
    "shop-hive": lambda d: d / "hive",
    "shop-glob": lambda d: d / "parts" / "*.csv",
}
PERIODS = [Period.day, Period.week, Period.month, Period.quarter]
WINDOWS = ["90d", "12mo", "all"]


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def frames(spark: Any, shop_dir: Path) -> Callable[[str, Level, tuple[str, ...]], tuple]:
    """``(input, level, by) -> (polars frame, spark frame)``, each read once."""
    from retcalc.engines.spark.load import load_orders_spark

    cache: dict[tuple[str, Level, tuple[str, ...]], tuple[pl.DataFrame, pl.DataFrame]] = {}

    def get(name: str, level: Level, by: tuple[str, ...] = ()) -> tuple:
        key = (name, level, by)
        if key not in cache:
            spec = str(INPUTS[name](shop_dir))
            options = LoadOptions()
            ours = load_orders(spec, options, need_amount=True, dimensions=by).frame
            theirs = load_orders_spark(
                spark, spec, options, need_amount=True, dimensions=by, level=level
            ).frame
            cache[key] = (ours, theirs)
        return cache[key]

    return get


def reduced(frame: pl.DataFrame, level: Level) -> Rows:
    """Spark's rows at ``level``, saying what they hold as ``load_orders_spark`` does."""
    return Rows(frame.lazy(), Holds(level))


def _params(period: Period, window: str, by: tuple[str, ...] = ()) -> Params:
    return Params(period=period, window=parse_window(window), by=by)


@pytest.mark.parametrize("name", list(INPUTS))
def test_canonical_lines_are_the_polars_loaders(frames: Any, name: str) -> None:
    """Parsing: every canonical line, in file order, as ``frames.load_orders`` reads it."""
    ours, theirs = frames(name, Level.lines, ("channel",))
    ours = ours.drop(ROW)
    if name == "shop-hive":  # folders are read in name order, rows within them in order
        ours = ours.sort("order_id", "customer_id", "day", "amount", nulls_last=True)
        theirs = theirs.sort("order_id", "customer_id", "day", "amount", nulls_last=True)
    assert_same_table(ours.select(theirs.columns), theirs, name)
    assert set(ours.columns) == set(theirs.columns)


#: Each case is one Spark read; --by changes the reduction's key, so both kinds are here.
DAYS_CASES = [("sample", ()), ("shop-messy", ("channel",)), ("shop-hive", ())]
ORDERS_CASES = [("sample", ()), ("shop-messy", ("channel",)), ("shop-parquet", ())]


@pytest.mark.parametrize(("name", "by"), DAYS_CASES)
def test_period_metrics_on_days(frames: Any, name: str, by: tuple[str, ...]) -> None:
    ours, theirs = frames(name, Level.days, by)
    for period in PERIODS:
        for window in WINDOWS:
            params = _params(period, window, by)
            a = prepare_activity(ours.lazy(), params)
            b = prepare_activity(reduced(theirs, Level.days), params)
            what = f"{name} {period} {window} {by}"
            assert_same_table(retention_table(a), retention_table(b), "retention " + what)
            assert_same_table(churn_table(a), churn_table(b), "churn " + what)
            if period is Period.day:
                continue  # a triangle of ~1000 daily cohorts: slow, and no new path
            for mode in Mode:
                assert_same_table(
                    cohort_table(a, mode=mode), cohort_table(b, mode=mode), "cohorts " + what
                )
            for brackets in (parse_brackets("0,1-2,3-6"), parse_brackets("1-7,8-30", "day")):
                assert_same_table(
                    cohort_table(a, brackets=brackets),
                    cohort_table(b, brackets=brackets),
                    f"cohorts --brackets {brackets} " + what,
                )


@pytest.mark.parametrize(("name", "by"), DAYS_CASES)
def test_bgnbd_summary_on_days(frames: Any, name: str, by: tuple[str, ...]) -> None:
    ours, theirs = frames(name, Level.days, by)
    a = rfm_summary(ours.lazy(), keys=by)
    b = rfm_summary(reduced(theirs, Level.days), keys=by)
    assert_same_table(a.frame, b.frame, name)
    assert a.observation_end == b.observation_end


@pytest.mark.parametrize(("name", "by"), ORDERS_CASES)
def test_order_metrics_on_orders(frames: Any, name: str, by: tuple[str, ...]) -> None:
    ours, theirs = frames(name, Level.orders, by)
    for period in [Period.month, Period.quarter]:
        params = _params(period, "12mo", by)
        a = prepare_activity(ours.lazy(), params)
        b = prepare_activity(reduced(theirs, Level.orders), params)
        for per_period in (False, True):
            assert_same_table(
                kpi_table(a, params=params, per_period=per_period, by_sequence=True),
                kpi_table(b, params=params, per_period=per_period, by_sequence=True),
                f"kpis {name} {period} {by}",
            )
    yearly = _params(Period.year, "3mo", by)
    assert_same_table(
        formula_table(prepare_activity(ours.lazy(), yearly), margin=0.3, discount_rate=0.1),
        formula_table(
            prepare_activity(reduced(theirs, Level.orders), yearly), margin=0.3, discount_rate=0.1
        ),
        f"formula {name}",
    )
    per_a = historical.per_customer(ours.lazy(), keys=by)
    per_b = historical.per_customer(reduced(theirs, Level.orders), keys=by)
    assert_same_table(per_a, per_b, f"historical {name}")
    assert_same_table(historical.summary(per_a, by), historical.summary(per_b, by))


@pytest.mark.parametrize("name", ["sample", "shop-messy"])
def test_returns_on_lines(frames: Any, name: str) -> None:
    ours, theirs = frames(name, Level.lines, ("channel",))
    for period in PERIODS[1:]:
        for by in [(), ("channel",)]:
            params = dataclasses.replace(_params(period, "all"), by=by)
            assert_same_table(
                returns_table(ours.lazy(), params=params).table,
                returns_table(theirs.lazy(), params=params).table,
                f"returns {name} {period} {by}",
            )


@pytest.mark.parametrize("level", [Level.days, Level.orders])
def test_rows_left_on_spark_are_the_rows_collected(
    spark: Any, frames: Any, shop_dir: Path, level: Level
) -> None:
    """Rows left on the executors (``remote=True``), partitioned by customer, hold what the
    default load collects: each partition's rows as a kernel gets them
    (``partials.partition_events``) together make the collected frame, at both levels."""
    from retcalc.engines.spark.load import load_orders_spark, spark_schema, to_arrow
    from retcalc.engines.spark.partials import partition_events

    by = ("channel",)
    _, collected = frames("shop-messy", level, by)
    loaded = load_orders_spark(
        spark,
        str(INPUTS["shop-messy"](shop_dir)),
        LoadOptions(),
        need_amount=True,
        dimensions=by,
        level=level,
        remote=True,
    )
    remote = loaded.remote
    assert remote is not None and remote.level is level and loaded.holds.level is level
    assert loaded.frame.height == 0  # nothing reached the driver
    back = remote.collected(loaded).frame
    order = [c for c in collected.columns if c not in ("revenue",)]
    assert_same_table(back.sort(order, nulls_last=True), collected.sort(order, nulls_last=True))
    # Partition by partition, as the kernels get them on the executors.
    schema, has_amount = remote.schema, remote.has_amount  # not the Spark frame
    out = {c: t for c, t in collected.schema.items() if c != "revenue"}

    def events(batches: Any) -> Any:
        found = partition_events(batches, schema, level, has_amount)
        if found is not None:
            wide = [c for c, t in found.schema.items() if t == pl.Int128]
            found = found.select(list(out)).with_columns(pl.col(wide).cast(pl.Decimal(38, 0)))
            yield from found.to_arrow().to_batches()

    per_task = pl.from_arrow(to_arrow(remote.rows.mapInArrow(events, spark_schema(out))))
    assert isinstance(per_task, pl.DataFrame)
    per_task = per_task.cast(out)
    assert_same_table(
        per_task.sort(order, nulls_last=True),
        collected.drop("revenue").sort(order, nulls_last=True),
    )
