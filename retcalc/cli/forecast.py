"""``retcalc forecast``: shifted-beta-geometric retention forecasts per cohort and pooled (SPEC §9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from retcalc.cli.options import Common, Seed, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.engines import Level
from retcalc.validate import MAX_FORECAST_HORIZON, MAX_RESAMPLES

FORECAST = "Forecast"


@data_command
def forecast(
    common: Common,
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon",
            metavar="N",
            min=1,
            max=MAX_FORECAST_HORIZON,
            help="Periods to project past the oldest cohort's last observed one (the younger cohorts' empty corner is filled too).",
            rich_help_panel=FORECAST,
            show_default=False,
        ),
    ],
    ci: Annotated[
        float | None,
        typer.Option(
            "--ci",
            metavar="LEVEL",
            help="Add _lo/_hi intervals at this level (e.g. 0.95) from a parametric bootstrap.",
            rich_help_panel=FORECAST,
        ),
    ] = None,
    resamples: Annotated[
        int,
        typer.Option(
            "--ci-resamples",
            metavar="N",
            min=1,
            max=MAX_RESAMPLES,
            help="With --ci: bootstrap resamples per fit.",
            rich_help_panel=FORECAST,
        ),
    ] = 200,
    seed: Seed = 0,
    params_out: Annotated[
        Path | None,
        typer.Option(
            "--params-out",
            metavar="FILE",
            help="Write alpha, beta, log-likelihood and n per cohort and pooled to this JSON file (atomically).",
            rich_help_panel=FORECAST,
        ),
    ] = None,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw the pooled survival by offset: observed, then the forecast (dim in the terminal; dashed, with its --ci band, in --format html).",
            rich_help_panel=FORECAST,
        ),
    ] = False,
) -> None:
    """Retention forecasts: a shifted-beta-geometric model per cohort and pooled, the cohort triangle filled in and projected."""

    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.forecast import FORECAST_COLUMNS, INTERVAL_COLUMNS, RATE_COLUMNS

    def body() -> None:
        metric_params = c.params(
            common, shows=(*FORECAST_COLUMNS, *INTERVAL_COLUMNS), command="forecast"
        )
        inputs = c.load(common, level=Level.days, anonymous=True, revenue=False)
        with progress("Fitting the retention model"):
            result = api.forecast_fit(
                inputs.orders_api(),
                customers=inputs.customers_api(),
                basis=common.basis,
                horizon=horizon,
                ci=ci,
                resamples=resamples,
                seed=seed,
                **c.metric_options(common),
            )
        if params_out is not None:
            _write_params(params_out, result.params, inputs.paths)
        basis = api.basis_of(inputs.customers_api(), common.basis)
        text, page = c.plot_targets(common, plot)
        keys = tuple(metric_params.by)
        chart_title = f"Pooled survival by offset ({common.period}s): observed and forecast"
        images: tuple[tuple[str, bytes], ...] = ()
        if page:
            from retcalc.render.charts import forecast_chart

            images = ((chart_title, forecast_chart(result.table, keys=keys)),)
        emit(
            result.table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=RATE_COLUMNS,
            title=(
                f"Retention forecast by {common.period} ({basis} basis), shifted-beta-geometric "
                f"model; {horizon} {common.period}s past the oldest cohort"
            ),
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=(*metric_params.by, "cohort"),
            images=images,
        )
        if text:
            from retcalc.render.charts import forecast_lines, print_text

            print_text(forecast_lines(result.table, keys=keys), title=chart_title)

    run(body, debug=common.debug)


def _write_params(path: Path, params: dict[str, Any], inputs: list[Path]) -> None:
    from retcalc import __version__
    from retcalc.errors import RetcalcError
    from retcalc.render.atomic import atomic_write, check_output_path

    target = check_output_path(path, inputs)
    document = {**params, "retcalc_version": __version__}
    try:
        with atomic_write(target) as handle:
            handle.write((json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"))
    except OSError as exc:
        raise RetcalcError(f"cannot write {path}: {exc.strerror or exc}") from exc
