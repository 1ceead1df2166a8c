"""``retcalc explain``: a metric's definition, and its formula with the user's own numbers."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer

from retcalc import explain as defs
from retcalc.cli.options import Common, ConventionOption, Debug
from retcalc.cli.runner import progress, run
from retcalc.definitions import Column, lookup
from retcalc.errors import InputError, UsageError
from retcalc.metrics.choices import Basis
from retcalc.periods import Period, parse_date_option

FILLED = ("retention", "churn", "returns")


def _row(
    metric: Column, common: Common, period_start: str | None, convention: object = None
) -> tuple[dict, str]:
    """The row of the metric's command table for the period containing ``period_start``
    (under ``convention``, a :class:`~retcalc.metrics.conventions.Convention`)."""
    import polars as pl

    from retcalc.cli import common as c
    from retcalc.metrics.churn import churn_table
    from retcalc.metrics.conventions import DEFAULT, Convention
    from retcalc.metrics.retention import retention_table
    from retcalc.metrics.returns import returns_table

    params = c.params(common)
    if metric.command == "returns":
        inputs = c.load(common, need_amount=True)
        assert inputs.orders is not None
        table = returns_table(inputs.orders.frame.lazy(), params=params).table
        where = f"{common.orders} ({common.period})"
    else:
        inputs = c.load(common, need_amount=metric.command == "churn")
        prep = c.prepare(common, inputs, params)
        rules = convention if isinstance(convention, Convention) else DEFAULT
        if metric.command == "retention":
            table = retention_table(prep, convention=rules)
        else:
            table = churn_table(prep, convention=rules)
        where = f"{common.orders} ({common.period}, window {params.window}, {prep.basis} basis)"
    if table.height == 0:
        raise InputError(f"{common.orders}: no periods to explain")
    if period_start is None:
        complete = table.filter(pl.col("complete")) if "complete" in table.columns else table
        row = (complete if complete.height else table).sort("period_start").row(-1, named=True)
    else:
        day = parse_date_option(period_start, "--period-start")
        match = table.filter((pl.col("period_start") <= day) & (pl.col("period_end") > day))
        if match.height == 0:
            first, last = str(table["period_start"].min()), str(table["period_end"].max())
            raise UsageError(
                f"--period-start {day} is outside the data's periods ({first} to {last})"
            )
        row = match.row(0, named=True)
    return row, where


def explain(
    metric: Annotated[
        str | None,
        typer.Argument(
            metavar="METRIC",
            help="The metric, e.g. crr, churn_rate, nrr. Omit it to list them all.",
        ),
    ] = None,
    orders: Annotated[
        str | None,
        typer.Argument(
            metavar="ORDERS",
            help="Orders file: fill the formula in with its numbers.",
            show_default=False,
        ),
    ] = None,
    period_start: Annotated[
        str | None,
        typer.Option(
            "--period-start",
            metavar="DATE",
            help="A day in the period to explain (default: the last complete period).",
        ),
    ] = None,
    customers: Annotated[
        str | None, typer.Option("--customers", metavar="FILE", help="Customers file.")
    ] = None,
    period: Annotated[Period, typer.Option("--period", "-p", help="Period length.")] = Period.month,
    active_window: Annotated[
        str, typer.Option("--active-window", "-w", metavar="WINDOW", help="Activity window.")
    ] = "12mo",
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Ignore events from this date.")
    ] = None,
    basis: Annotated[
        Basis | None, typer.Option("--basis", help="activity or subscription.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", metavar="FILE", help="YAML column mapping.")
    ] = None,
    convention: ConventionOption = None,
    debug: Debug = False,
) -> None:
    """Print what a metric means; with an orders file, its formula with your numbers."""

    def body() -> None:
        out = sys.stdout
        if metric is None:
            width = max(len(name) for name in defs.METRICS)
            for name, m in defs.METRICS.items():
                out.write(f"{name.ljust(width)}  {m.command:<9}  {m.meaning}\n")
            return
        found = lookup(metric)
        if found is None:
            close = difflib.get_close_matches(metric, list(defs.METRICS), n=3)
            hint = f" (closest: {', '.join(close)})" if close else ""
            raise UsageError(f"no metric {metric!r}{hint}; `retcalc explain` lists every metric")
        printed = ", ".join(f"`retcalc {command}`" for command in found.commands)
        out.write(f"{found.name} (printed by {printed})\n")
        out.write(f"  {found.meaning}\n")
        if found.formula:
            out.write(f"  formula: {found.name} = {found.formula_text}\n")
        rules = None
        if convention is not None:
            from retcalc.metrics.conventions import convention_for, said

            rules = convention_for(convention, found.command)
            out.write(f"  {said(rules, found.command)}\n")
        if orders is None:
            return
        if found.command not in FILLED:
            out.write(
                f"\n  `explain` fills formulas in from one period of {', '.join(FILLED)} only "
                f"(definition only here). Run `retcalc {found.command} {orders}` to see it "
                "computed on your data.\n"
            )
            return
        common = Common(
            orders=orders,
            customers=customers,
            period=period,
            active_window=active_window,
            as_of=as_of,
            basis=basis,
            config=config,
        )
        with progress(f"Reading {orders}"):
            row, where = _row(found, common, period_start, rules)
        out.write(f"\nFor the period {row['period_start']} to {row['period_end']} of {where}:\n")
        out.write(f"  {defs.filled(found, row)}\n")
        used = defs.fields(found)
        if used:
            out.write(
                "  where "
                + ", ".join(f"{name} = {defs.number(row.get(name))}" for name in used)
                + "\n"
            )
        for name in used:
            if name in defs.METRICS and name != found.name:
                out.write(f"    {name}: {defs.METRICS[name].meaning}\n")
        if row.get("complete") is False:
            out.write("  (this period is not complete: see `retcalc explain complete`)\n")

    run(body, debug=debug)
