"""``retcalc kpis``: business KPIs over the range, or per period with ``--period`` (SPEC §2.8)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from retcalc.cli.options import (
    CiResamples,
    Common,
    Confidence,
    ConventionOption,
    Seed,
    data_command,
)
from retcalc.cli.runner import emit, fail_if_breaches, note, progress, run, warn
from retcalc.engines import Engine, Level
from retcalc.errors import ThresholdCrossed, UsageError
from retcalc.metrics.choices import Basis
from retcalc.render import OutputFormat, resolve_format
from retcalc.validate import MAX_COUNT

if TYPE_CHECKING:
    import polars as pl

KPIS = "KPIs"


def _period_given(ctx: typer.Context) -> bool:
    source = ctx.get_parameter_source("period")
    return source is not None and source.name == "COMMANDLINE"


def one_screen(table: pl.DataFrame, percent_columns: tuple[str, ...]) -> pl.DataFrame:
    """A one-row result as ``metric, value`` lines of display text, for the terminal."""
    import polars as pl

    from retcalc.render.values import fold_intervals, human_frame

    _, text = fold_intervals(table, human_frame(table, percent_columns=percent_columns))
    return pl.DataFrame(
        {"metric": text.columns, "value": list(text.row(0))},
        schema={"metric": pl.String, "value": pl.String},
    )


@data_command
def kpis(
    common: Common,
    ctx: typer.Context,
    ci: Confidence = None,
    ci_resamples: CiResamples = 1000,
    seed: Seed = 0,
    convention: ConventionOption = None,
    loyal_orders: Annotated[
        int,
        typer.Option(
            "--loyal-orders",
            metavar="N",
            min=1,
            max=MAX_COUNT,
            help="loyal_customer_rate counts customers with at least this many orders in the range.",
            rich_help_panel=KPIS,
        ),
    ] = 4,
    by_sequence: Annotated[
        bool,
        typer.Option(
            "--by-sequence",
            help="Add median_days_1_to_2 ... median_days_4_to_5 (gaps between the k-th and next purchase day).",
            rich_help_panel=KPIS,
        ),
    ] = False,
    nps: Annotated[
        str | None,
        typer.Option(
            "--nps",
            metavar="FILE",
            help="NPS responses (customer_id, date, score 0-10): adds nps, nps_churned, nps_retained.",
            rich_help_panel=KPIS,
        ),
    ] = None,
    paid_col: Annotated[
        str | None,
        typer.Option(
            "--paid-col",
            metavar="COLUMN",
            help="Orders column holding the date each order was paid: adds dso (days sales outstanding).",
            rich_help_panel=KPIS,
        ),
    ] = None,
) -> None:
    """Customers, orders, revenue, AOV, churn, repeat and loyalty rates, purchase gaps, NPS and DSO over the range.

    One row over the whole range (--start/--end, default the first to the last
    purchase day); with --period given explicitly, one row per period.
    """
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.io import dates
    from retcalc.io.nps import load_nps
    from retcalc.metrics.conventions import convention_for, said
    from retcalc.metrics.kpis import KPI_COLUMNS, NPS_COLUMNS, RATE_COLUMNS

    per_period = _period_given(ctx)

    def body() -> None:
        rules = convention_for(convention, "kpis")
        metric_params = c.params(common, shows=(*KPI_COLUMNS, *NPS_COLUMNS), command="kpis")
        if common.basis is Basis.subscription:
            raise UsageError(
                "kpis uses the activity basis (SPEC §2.1: active = ordered within "
                "--active-window); drop --basis subscription"
            )
        if nps == "-" and common.orders == "-":
            raise UsageError("only one input can be read from stdin ('-')")
        if paid_col and common.engine is Engine.spark:
            raise UsageError(
                "--paid-col reads a second date per order line: not available with --engine spark yet"
            )
        # --paid-col reads every line's second date; the responses' ids must meet the
        # orders' as text (both are coded together below). On Spark the KPIs run on the
        # executors, but NPS and aov's bootstrap (--ci) need every customer's rows.
        inputs = c.load(
            common,
            need_amount=True,
            level=Level.lines if paid_col else Level.orders,
            anonymous=not nps,
            remote=not nps and ci is None,
        )
        assert inputs.orders is not None
        style = dates.style_from_flag(common.date_format) if common.date_format else None
        responses = None
        if nps:
            with progress(f"Reading {nps}"):
                loaded = load_nps(nps, encoding=common.encoding, date_style=style)
            for message in loaded.warnings:
                warn(message)
            responses = loaded.frame.lazy()
        with progress("Computing KPIs"):
            options = c.metric_options(common)
            table = api.kpis(
                inputs.orders_api(),
                ci=ci,
                ci_resamples=ci_resamples,
                seed=seed,
                **{**options, "period": common.period if per_period else None},
                loyal_orders=loyal_orders,
                by_sequence=by_sequence,
                nps=responses,
                paid_col=paid_col,
                date_format=common.date_format,
                convention=convention,
            )
        if convention is not None:
            note(said(rules, "kpis"))
        what = f"by {common.period}" if per_period else "over the range"
        title = f"KPIs {what} (window {metric_params.window})"
        chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
        if chosen is OutputFormat.table and table.height == 1 and not metric_params.by:
            # One screen: metric -> value. --fail-if still reads the real columns.
            breaches = fail_if_breaches(table, common.fail_if or ())
            emit(
                one_screen(table, RATE_COLUMNS),
                fmt=chosen,
                output=common.output,
                title=title,
                inputs=inputs.paths,
            )
            if breaches:
                raise ThresholdCrossed("\nretcalc: ".join(b.message() for b in breaches))
            return
        emit(
            table,
            fmt=chosen,
            output=common.output,
            percent_columns=RATE_COLUMNS,
            title=title,
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=metric_params.by,
        )

    run(body, debug=common.debug)
