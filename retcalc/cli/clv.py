"""``retcalc clv``: customer lifetime value, historical, by formula or by BG/NBD (SPEC §2.7)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retcalc import __version__
from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run, warn
from retcalc.engines import Level
from retcalc.errors import InputError, RetcalcError, UsageError
from retcalc.lazy import LazyModule
from retcalc.metrics.choices import TimeUnit
from retcalc.periods import Period, Window, parse_duration
from retcalc.render.atomic import atomic_write, check_output_path
from retcalc.validate import MAX_HORIZON_YEARS

if TYPE_CHECKING:
    import polars as pl

    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics import clv as model
    from retcalc.metrics.clv import formula, historical, holdout
    from retcalc.metrics.common import Params
else:  # retcalc.lazy: `clv --help` needs none of them
    pl = LazyModule("polars")
    api = LazyModule("retcalc.api")
    c = LazyModule("retcalc.cli.common")
    model = LazyModule("retcalc.metrics.clv")
    formula = LazyModule("retcalc.metrics.clv.formula")
    historical = LazyModule("retcalc.metrics.clv.historical")
    holdout = LazyModule("retcalc.metrics.clv.holdout")

MODEL = "Model"


class Model(StrEnum):
    """Values of ``--model``."""

    historical = "historical"
    formula = "formula"
    bgnbd = "bgnbd"


def _fraction(text: str | None, flag: str, default: float, *, allow_zero: bool) -> float:
    """``0.3`` or ``30%`` as 0.3."""
    if text is None:
        return default
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a number: use e.g. 0.3 or 30%") from None
    if not (value > 0 or (allow_zero and value == 0)) or value > 1:
        low = "0" if allow_zero else "above 0"
        raise UsageError(
            f"{flag} {text!r} is out of range: give a fraction from {low} to 1, e.g. 0.3 or 30%"
        )
    return value


def _read_params(path: Path) -> model.ModelParams:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--params-in {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--params-in {path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--params-in {path}: not JSON ({exc})") from None
    return model.ModelParams.from_dict(data, source=f"--params-in {path}")


def _write_params(
    path: Path, params: model.ModelParams, inputs: list[Path], extra: dict[str, Any]
) -> None:
    target = check_output_path(path, inputs)
    document = {**params.to_dict(), **extra, "retcalc_version": __version__}
    try:
        with atomic_write(target) as handle:
            handle.write((json.dumps(document, indent=2) + "\n").encode("utf-8"))
    except OSError as exc:
        raise RetcalcError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _params_title(params: model.ModelParams) -> str:
    b, g = params.bgnbd, params.gamma_gamma
    if b.limit is None:
        text = f"BG/NBD r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g}"
    else:
        fitted = " ".join(f"{k}={v:.4g}" for k, v in b.fitted().items())
        text = f"BG/NBD limit {b.limit} {fitted}"
    if g is not None and g.limit is not None:
        text += f"; Gamma-Gamma limit {g.limit} mean={g.mean:.4g}"
    elif g is not None:
        text += f"; Gamma-Gamma p={g.p:.4g} q={g.q:.4g} v={g.v:.4g}"
    return text


def _warn_negative(groups: pl.DataFrame, keys: tuple[str, ...]) -> None:
    if "net_clv_negative" not in groups.columns:
        return
    negative = groups.filter(pl.col("net_clv_negative"))
    if negative.height == 0:
        return
    if not keys:
        warn("CLV net of the cost to serve is negative over all customers")
        return
    names = [
        ", ".join(f"{k}={row[k]}" for k in keys)
        for row in negative.select(keys).iter_rows(named=True)
    ]
    warn(
        "CLV net of the cost to serve is negative for "
        + "; ".join(names)
        + " (these customers cost more to serve than they are expected to bring)"
    )


#: Shared options that clv refuses rather than ignore.
NOT_USED = {
    "period": "customer value has no periods (--model formula counts in complete years); "
    "use --start, --end and --as-of to choose the days counted",
}
NOT_USED_BUT_BY_FORMULA = {
    "active_window": "only --model formula reads it (lifetime = 1 / the churn rate under "
    "that window)",
}


@data_command
def clv(
    common: Common,
    ctx: typer.Context,
    model_name: Annotated[
        Model,
        typer.Option(
            "--model",
            "-m",
            help="historical (what customers bought), formula (AOV × purchases a year × margin × lifetime) or bgnbd (BG/NBD + Gamma-Gamma).",
            rich_help_panel=MODEL,
        ),
    ] = Model.historical,
    per_customer: Annotated[
        bool,
        typer.Option(
            "--per-customer",
            help="One row per customer instead of the summary (historical, bgnbd).",
            rich_help_panel=MODEL,
        ),
    ] = False,
    margin: Annotated[
        str | None,
        typer.Option(
            "--margin",
            metavar="FRACTION",
            help="Gross margin as a fraction of revenue (0.3 or 30%); default 1 (revenue).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    discount_rate: Annotated[
        str | None,
        typer.Option(
            "--discount-rate",
            metavar="RATE",
            help="Yearly discount rate (0.1 or 10%; default 0.1). bgnbd discounts month by month.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    horizon: Annotated[
        str | None,
        typer.Option(
            "--horizon",
            metavar="DURATION",
            help="bgnbd: how far ahead to predict: 90d, 26w, 6mo, 1y (default 1y = 365 days; at most 100y).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    time_unit: Annotated[
        TimeUnit | None,
        typer.Option(
            "--time-unit",
            help="bgnbd: unit of recency and T (week divides days by 7). Default day.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    params_out: Annotated[
        Path | None,
        typer.Option(
            "--params-out",
            metavar="FILE",
            help="bgnbd: write the fitted parameters to this JSON file (atomically).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    params_in: Annotated[
        Path | None,
        typer.Option(
            "--params-in",
            metavar="FILE",
            help="bgnbd: score with the parameters in this JSON file instead of fitting.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    penalizer: Annotated[
        float | None,
        typer.Option(
            "--penalizer",
            metavar="COEF",
            help="bgnbd: add COEF × the sum of the squared BG/NBD parameters to the mean negative log-likelihood (lifetimes' penalizer_coef), for fits that do not converge; default 0.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    spend_penalizer: Annotated[
        float | None,
        typer.Option(
            "--spend-penalizer",
            metavar="COEF",
            help="bgnbd: the same for the Gamma-Gamma spend model (its v is in the currency, so small values, e.g. 1e-6, already weigh); default 0.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    holdout_text: Annotated[
        str | None,
        typer.Option(
            "--holdout",
            metavar="DURATION",
            help="bgnbd: fit on all but the last DURATION (26w, 6mo) and compare predicted with actual purchases in it.",
            rich_help_panel=MODEL,
        ),
    ] = None,
) -> None:
    """Customer lifetime value: historical per customer, by formula, or predicted with BG/NBD + Gamma-Gamma."""

    def body() -> None:
        chosen = model_name
        c.refuse_given(ctx, "clv", NOT_USED)
        if chosen is not Model.formula:
            c.refuse_given(ctx, f"clv --model {chosen}", NOT_USED_BUT_BY_FORMULA)
        bg_only = {
            "--horizon": horizon,
            "--time-unit": time_unit,
            "--params-out": params_out,
            "--params-in": params_in,
            "--holdout": holdout_text,
            "--penalizer": penalizer,
            "--spend-penalizer": spend_penalizer,
        }
        if chosen is not Model.bgnbd:
            for flag, value in bg_only.items():
                if value is not None:
                    raise UsageError(f"{flag} is for the predictive model: add --model bgnbd")
        if chosen is Model.historical:
            for flag, value in {"--margin": margin, "--discount-rate": discount_rate}.items():
                if value is not None:
                    raise UsageError(
                        f"{flag} is for --model formula or bgnbd (historical value is revenue)"
                    )
        if params_in is not None and params_out is not None:
            raise UsageError("--params-out with --params-in would copy the file: drop one")
        if per_customer and chosen is Model.formula:
            raise UsageError("--per-customer is for --model historical or bgnbd")
        shows = (
            *model.GROUP_COLUMNS,
            *model.GROUP_COST_COLUMNS,
            *historical.SUMMARY_COLUMNS,
            *formula.FORMULA_COLUMNS,
            *formula.COST_COLUMNS,
        )
        metric_params = c.params(common, shows=tuple(dict.fromkeys(shows)), command="clv")
        if chosen is Model.historical:
            _historical(common, metric_params, per_customer)
        elif chosen is Model.formula:
            _formula(
                common,
                metric_params,
                margin=_fraction(margin, "--margin", 1.0, allow_zero=False),
                discount=_fraction(discount_rate, "--discount-rate", 0.1, allow_zero=True),
            )
        else:
            _bgnbd(
                common,
                metric_params,
                per_customer=per_customer,
                margin=_fraction(margin, "--margin", 1.0, allow_zero=False),
                discount=_fraction(discount_rate, "--discount-rate", 0.1, allow_zero=True),
                horizon=parse_duration(horizon or "1y", "--horizon", max_years=MAX_HORIZON_YEARS),
                unit=time_unit or TimeUnit.day,
                params_in=params_in,
                params_out=params_out,
                holdout_window=parse_duration(holdout_text, "--holdout") if holdout_text else None,
                penalizer=penalizer or 0.0,
                spend_penalizer=spend_penalizer or 0.0,
            )

    run(body, debug=common.debug)


def _emit(common: Common, table: pl.DataFrame, inputs: c.Inputs, **kwargs: Any) -> None:
    emit(
        table,
        fmt=common.fmt,
        output=common.output,
        inputs=inputs.paths,
        excel_safe=common.excel_safe,
        fail_if=common.fail_if or (),
        **kwargs,
    )


def _historical(common: Common, metric_params: Params, per_customer: bool) -> None:
    # The group table runs on Spark's executors (SPEC §8), and --per-customer with a
    # Parquet --output is written by them; else --per-customer collects.
    write_to = c.executors_write(common, per_customer)
    if write_to is not None:
        c.write_on_executors(
            common, write_to, api.clv_historical, Level.orders, "historical value per customer"
        )
        return
    inputs = c.load(
        common,
        need_amount=True,
        level=Level.orders,
        anonymous=not per_customer,
        remote=not per_customer,
    )
    keys = metric_params.by
    with progress("Computing historical value"):
        # The orders handed over (no reference kept here), so that the metric lets
        # their rows go once it has read them.
        table = api.clv_historical(
            inputs.orders_api(hand_over=True),
            per_customer=per_customer,
            **c.range_options(common),
        )
    _emit(
        common,
        table,
        inputs,
        title="Historical value per customer" if per_customer else "Historical customer value",
        keys=keys,
    )


def _formula(common: Common, metric_params: Params, *, margin: float, discount: float) -> None:
    # The table is per group: no customer id is shown, so the ids may be integer keys
    # (unless costs to serve are joined to the customers on them).
    inputs = c.load(common, need_amount=True, level=Level.orders, anonymous=True)
    yearly = dataclasses.replace(metric_params, period=Period.year)
    with progress("Computing the CLV formula"):
        table = api.clv_formula(
            inputs.orders_api(),
            customers=inputs.customers_api(),
            window=common.active_window,
            basis=common.basis,
            **c.range_options(common),
            margin=margin,
            discount_rate=discount,
        )
    basis = api.basis_of(inputs.customers_api(), common.basis)
    _warn_negative(table, metric_params.by)
    _emit(
        common,
        table,
        inputs,
        percent_columns=formula.RATE_COLUMNS,
        title=f"CLV by formula ({basis} basis, window {yearly.window}, complete years)",
        keys=metric_params.by,
    )


def _bgnbd(
    common: Common,
    metric_params: Params,
    *,
    per_customer: bool,
    margin: float,
    discount: float,
    horizon: Window,
    unit: TimeUnit,
    params_in: Path | None,
    params_out: Path | None,
    holdout_window: Window | None,
    penalizer: float,
    spend_penalizer: float,
) -> None:
    if metric_params.start is not None or metric_params.end is not None:
        raise UsageError(
            "--start/--end do not apply to --model bgnbd (it needs each customer's whole "
            "history): use --as-of to end the observation"
        )
    # The fit and the group table run on Spark's executors (SPEC §8), and --per-customer
    # with a Parquet --output is written by them; else --per-customer and --holdout
    # collect the rows.
    write_to = c.executors_write(common, per_customer) if holdout_window is None else None
    if write_to is not None:
        inputs = c.load_for_executors(common, write_to, need_amount=True, level=Level.days)
    else:
        remote = not per_customer and holdout_window is None
        inputs = c.load(common, need_amount=True, level=Level.days, remote=remote)
    given = _read_params(params_in) if params_in else None
    keys = metric_params.by
    if holdout_window is not None:
        if per_customer or keys:
            raise UsageError("--holdout prints one comparison table: drop --per-customer / --by")
        if spend_penalizer:
            raise UsageError("--holdout fits no spend model: drop --spend-penalizer")
        with progress("Fitting on the calibration period"):
            # The orders handed over (no reference kept here): their rows go once read.
            check = api.clv_holdout(
                inputs.orders_api(hand_over=True),
                holdout=holdout_window,
                as_of=metric_params.as_of,
                time_unit=unit,
                params=given,
                penalizer=penalizer,
            )
        if params_out is not None:
            _write_params(
                params_out,
                check.params,
                inputs.paths,
                {"observation_end": str(check.calibration_end - dt.timedelta(days=1))},
            )
        _emit(
            common,
            check.table,
            inputs,
            title=(
                f"Holdout {check.calibration_end} to {check.end - dt.timedelta(days=1)}: predicted versus "
                f"actual repeat purchase days ({_params_title(check.params)})"
            ),
        )
        return
    if given is not None and given.gamma_gamma is None:
        raise InputError(f"--params-in {params_in}: no 'gamma_gamma' section (p, q, v)")
    with progress("Fitting BG/NBD and Gamma-Gamma and scoring customers"):
        # The orders handed over (no reference kept here), so that the summary lets their
        # rows go once it has read them, instead of through the fit and the scoring.
        fit = api.clv_bgnbd_fit(
            inputs.orders_api(hand_over=True),
            customers=inputs.customers_api(),
            as_of=metric_params.as_of,
            by=tuple(common.by or ()),
            margin=margin,
            discount_rate=discount,
            horizon=horizon,
            time_unit=unit,
            params=given,
            penalizer=penalizer,
            spend_penalizer=spend_penalizer,
            per_customer=per_customer,
            write_to=write_to,
        )
        # Per customer, the group table only says whether the net CLV is negative.
        table_needed = write_to is None and (not per_customer or fit.has_cost)
        groups = fit.groups if table_needed else None
    if params_out is not None:
        _write_params(
            params_out, fit.params, inputs.paths, {"observation_end": str(fit.observation_end)}
        )
    if write_to is not None:
        assert fit.written is not None
        c.say_written(fit.written, write_to)
        return
    if groups is not None:
        _warn_negative(groups, keys)
    table = fit.customers if per_customer else groups
    assert table is not None
    title = (
        f"CLV over {horizon} ({fit.horizon_days:g} days), {_params_title(fit.params)}, "
        f"observed to {fit.observation_end}"
    )
    _emit(
        common,
        table,
        inputs,
        percent_columns=("p_alive", "mean_p_alive"),
        title=title,
        keys=keys,
    )
