"""``retcalc survival``: Kaplan-Meier survival of customers, medians and the log-rank
test between groups (SPEC §9)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run, warn
from retcalc.engines import Engine, Level
from retcalc.render import OutputFormat, resolve_format

if TYPE_CHECKING:
    from retcalc.api import SurvivalFit

SURVIVAL = "Survival"

#: Shared options that survival refuses rather than ignore.
NOT_USED = {
    "period": "survival counts days since signup (or the first purchase), not periods",
}


@data_command
def survival(
    common: Common,
    ctx: typer.Context,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="One row per group instead of the curve: customers, events, censored, the "
            "median lifetime with its interval, and the log-rank test between the groups.",
            rich_help_panel=SURVIVAL,
        ),
    ] = False,
    ci: Annotated[
        float,
        typer.Option(
            "--ci",
            metavar="LEVEL",
            help="Confidence level of the intervals (survival_lo/hi, median_lo/hi).",
            rich_help_panel=SURVIVAL,
        ),
    ] = 0.95,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw the survival curves per group: a sparkline with the last day's interval in the terminal; the step function with its Greenwood band in --format html.",
            rich_help_panel=SURVIVAL,
        ),
    ] = False,
) -> None:
    """Kaplan-Meier survival of customers: how many are still subscribed (or active) N days on.

    Subscription basis (a customers file with signup dates): from signup to churn;
    activity basis: from the first purchase to the first lapse, the last day on which
    the customer is still active under --active-window. Lifetimes still running at
    --as-of (else the data's end) are censored; those begun before --start (else the
    first purchase in the data) count from that day on (left truncation). One row per
    day on which a lifetime ends, per --by group, with log-log (exponential Greenwood)
    intervals; --summary gives the median lifetimes and the log-rank test.
    """
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.survival import RATE_COLUMNS, SUMMARY_COLUMNS, SURVIVAL_COLUMNS

    def body() -> None:
        c.refuse_given(ctx, "survival", NOT_USED)
        metric_params = c.params(
            common, shows=(*SURVIVAL_COLUMNS, *SUMMARY_COLUMNS), command="survival"
        )
        # Only purchase days are read: a large input may be summed per customer and day.
        level = Level.days if common.engine is Engine.polars else None
        inputs = c.load(common, level=level, anonymous=True, revenue=False)
        with progress("Following customers"):
            fit = api.survival_fit(
                inputs.orders_api(hand_over=True),
                customers=inputs.customers_api(),
                window=common.active_window,
                basis=common.basis,
                ci=ci,
                **c.range_options(common),
            )
        _say_counts(fit)
        chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
        if plot and summary:
            warn("--plot draws the curves: not with --summary")
        text, page = c.plot_targets(common, plot and not summary)
        chart_title = "Kaplan-Meier survival by days since " + (
            "signup" if fit.basis == "subscription" else "the first purchase"
        )
        images: tuple[tuple[str, bytes], ...] = ()
        if page:
            from retcalc.render.charts import survival_chart

            images = ((chart_title, survival_chart(fit.table, keys=fit.by)),)
        emit(
            fit.summary if summary else fit.table,
            fmt=chosen,
            output=common.output,
            percent_columns=RATE_COLUMNS,
            title=_title(fit, summary),
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=metric_params.by,
            images=images,
        )
        if text:
            from retcalc.render.charts import print_text, survival_lines

            print_text(survival_lines(fit.table, keys=fit.by), title=chart_title)
        if chosen is OutputFormat.table and not summary:
            print(f"retcalc: {_medians_line(fit)}", file=sys.stderr, flush=True)

    run(body, debug=common.debug)


def _title(fit: SurvivalFit, summary: bool) -> str:
    what = "signup to churn" if fit.basis == "subscription" else "first purchase to lapse"
    kind = "Median lifetimes" if summary else "Kaplan-Meier survival"
    return (
        f"{kind} ({fit.basis} basis: {what}), observed {fit.start} to {fit.end} (exclusive), "
        f"{fit.level:.0%} intervals"
    )


def _say_counts(fit: SurvivalFit) -> None:
    """Left truncation and lifetimes left out, said on stderr."""
    truncated, left_out = fit.truncated, fit.left_out
    if not truncated and not left_out:
        return
    subscription = fit.basis == "subscription"
    began = "signed up" if subscription else "first purchased"
    ended = "churned" if subscription else "lapsed"
    warn(
        f"{truncated + left_out} customers {began} before {fit.start}, where the observation "
        f"starts (--start, else the first purchase in the data): {truncated} count from that "
        f"day on (left truncation), {left_out} who {ended} before it are left out"
    )


def _medians_line(fit: SurvivalFit) -> str:
    """The median lifetimes and the log-rank test, in one line."""

    def days(value: object) -> str:
        return "-" if value is None else f"{value}"

    def median(row: dict[str, object]) -> str:
        if row["median_days"] is None:
            return "not reached"
        return f"{row['median_days']} days ({days(row['median_lo'])}-{days(row['median_hi'])})"

    rows = list(fit.summary.iter_rows(named=True))
    level = f"{fit.level:.0%}"
    if not fit.by:
        return f"median lifetime {median(rows[0])} ({level} interval)"
    named = "; ".join(", ".join(str(row[k]) for k in fit.by) + f": {median(row)}" for row in rows)
    line = f"median lifetime by {', '.join(fit.by)} ({level} interval): {named}"
    if fit.logrank is not None:
        test = fit.logrank
        line += f"; log-rank chi-square {test.chi2:.3f}, df {test.df}, p = {test.p:.4g}"
    return line
