"""``retcalc report``: KPIs, retention, revenue, cohorts, CLV and returns in one file.

The kind of file follows ``--output``'s extension (.html, .md, .xlsx, .json) or
``--format``. ``--spec FILE`` reads everything from a YAML report spec (for
cron); options given on the command line override the spec's values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retcalc import __version__
from retcalc.cli.options import OUTPUT, Common, Confidence, data_command
from retcalc.cli.runner import progress, run, warn
from retcalc.engines import Engine
from retcalc.errors import RetcalcError, ThresholdCrossed, UsageError
from retcalc.periods import parse_date_option
from retcalc.report import SECTIONS

if TYPE_CHECKING:
    from retcalc.io.frames import Loaded
    from retcalc.io.returns_file import LoadedReturns
    from retcalc.report.alerts import Alert
    from retcalc.report.output import ReportFormat
    from retcalc.report.spec import ReportSpec

REPORT = "Report"
ORDERS_HELP = (
    "Orders: a CSV or Parquet file, a directory or glob of Parquet files, or - for stdin "
    "(optional with --spec)."
)


def _orders_optional(command: Callable[..., Any]) -> Callable[..., Any]:
    """Make the shared ORDERS argument optional: a --spec can name the orders instead."""
    signature = inspect.signature(command)
    annotation = Annotated[
        str | None, typer.Argument(metavar="ORDERS", help=ORDERS_HELP, show_default=False)
    ]
    params = [
        p.replace(default=None, annotation=annotation) if p.name == "orders" else p
        for p in signature.parameters.values()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        return command(**kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The command line and the spec merged: what to read, compute and write."""

    common: Common
    returns: str | None
    sections: tuple[str, ...]
    alerts: tuple[Alert, ...]
    title: str | None
    columns: dict[str, dict[str, str]]
    output: Path | None  # from --output
    fmt: ReportFormat
    as_of_rule: bool  # --as-of or the spec's as_of is a rule (today, last_complete_month...)
    max_age_flag: str  # where the age limit comes from, for the message
    ci: float | None = None  # --ci, or the spec's ci


def _settings(
    common: Common,
    ctx: typer.Context,
    spec: ReportSpec | None,
    *,
    returns_file: str | None,
    sections: list[str] | None,
    title: str | None,
    today: dt.date,
    ci: float | None = None,
) -> _Settings:
    from retcalc.report.alerts import parse_alert
    from retcalc.report.output import report_format
    from retcalc.report.spec import AS_OF_RULES, resolve_as_of

    orders = common.orders or (spec.orders if spec else None)
    if not orders:
        raise UsageError("report needs the orders: give ORDERS or a --spec with inputs.orders")
    if common.by:
        raise UsageError(
            "a report is not split by --by; run retention, churn, cohorts... with --by for that"
        )
    if common.engine is not Engine.polars or common.spark_master or common.spark_conf:
        raise UsageError(
            "a report is computed in this process (--engine polars): its sections share one "
            "read of the orders; run retention, churn, cohorts, kpis, clv... with --engine "
            "spark for the tables on Spark"
        )
    period = common.period
    window = common.active_window
    if spec is not None:
        if spec.period is not None and not _given(ctx, "period"):
            period = spec.period
        if spec.active_window is not None and not _given(ctx, "active_window"):
            window = spec.active_window
    as_of_text = common.as_of or (spec.as_of if spec else None)
    as_of = resolve_as_of(as_of_text, today).isoformat() if as_of_text else None
    max_age = common.max_age or (spec.max_age if spec else None)
    chosen = dataclasses.replace(
        common,
        orders=orders,
        customers=common.customers or (spec.customers if spec else None),
        period=period,
        active_window=window,
        as_of=as_of,
        max_age=max_age,
    )
    picked = tuple(dict.fromkeys(sections)) if sections else None
    for name in picked or ():
        if name not in SECTIONS:
            raise UsageError(f"--section {name!r}: sections are {', '.join(SECTIONS)}")
    if common.fail_if:
        alerts = tuple(parse_alert(text) for text in common.fail_if)
    else:
        alerts = spec.fail_if if spec else ()
    if common.output is None and (spec is None or spec.output is None):
        raise UsageError(
            "report needs --output FILE (.html, .md, .xlsx or .json), or a --spec with output"
        )
    kind_of = common.output or Path(spec.output if spec and spec.output else "")
    if str(kind_of) == "-":
        raise UsageError("a report is written to a file: give --output FILE, not -")
    return _Settings(
        common=chosen,
        returns=returns_file or (spec.returns if spec else None),
        sections=picked or (spec.sections if spec and spec.sections else SECTIONS),
        alerts=alerts,
        title=title or (spec.title if spec else None),
        columns=spec.columns if spec else {},
        output=common.output,
        fmt=report_format(str(common.fmt) if common.fmt else None, kind_of),
        as_of_rule=as_of_text in AS_OF_RULES,
        max_age_flag="--max-age" if common.max_age or spec is None else f"max_age in {spec.path}",
        ci=ci if ci is not None else (spec.ci if spec else None),
    )


@dataclasses.dataclass
class _Loaded:
    orders: Loaded
    customers: Loaded | None
    returns: LoadedReturns | None

    @property
    def paths(self) -> list[Path]:
        from retcalc.cli import common as c

        paths = c.Inputs(self.orders, self.customers).paths
        if self.returns is not None:
            paths += [f.resolve() for f in self.returns.table.files]
        return paths


def _load(settings: _Settings, today: dt.date) -> _Loaded:
    from retcalc.cli import common as c
    from retcalc.io.frames import load_customers, load_orders
    from retcalc.io.returns_file import load_returns

    common = settings.common
    assert common.orders is not None
    stdin = [s for s in (common.orders, common.customers, settings.returns) if s == "-"]
    if len(stdin) > 1:
        raise UsageError("only one input can be read from stdin ('-')")
    options = c.load_options(common)
    if settings.columns:
        options = dataclasses.replace(options, config={**options.config, **settings.columns})
    with progress(f"Reading {common.orders}"):
        orders = load_orders(common.orders, options, dimensions=("product_id", "segment"))
    for message in orders.warnings:
        warn(message)
    c.check_fresh(
        common,
        orders,
        today=today,
        rule=settings.as_of_rule,
        max_age_flag=settings.max_age_flag,
    )
    customers = None
    if common.customers:
        with progress(f"Reading {common.customers}"):
            customers = load_customers(common.customers, options)
        for message in customers.warnings:
            warn(message)
    returns = None
    if settings.returns:
        with progress(f"Reading {settings.returns}"):
            returns = load_returns(
                settings.returns,
                config=options.config,
                date_style=options.date_style,
                encoding=options.encoding,
                dimensions=("product_id",),
            )
        for message in returns.warnings:
            warn(message)
    return _Loaded(orders, customers, returns)


def _record(settings: _Settings, loaded: _Loaded, params: Any) -> None:
    """The report's inputs and resolved settings, for its manifest (SPEC §10)."""
    from retcalc import manifest

    manifest.record("orders", loaded.orders)
    if loaded.customers is not None:
        manifest.record("customers", loaded.customers)
    if settings.returns:
        manifest.record_file("returns", settings.returns)
    common = settings.common
    for name, value in {
        "period": params.period,
        "active_window": common.active_window,
        "as_of": params.as_of,
        "start": common.start,
        "end": common.end,
        "sections": list(settings.sections),
        "output": settings.output,
        "fmt": settings.fmt,
    }.items():
        manifest.resolved(name, value)


@_orders_optional
@data_command
def report(
    common: Common,
    ctx: typer.Context,
    returns_file: Annotated[
        str | None,
        typer.Option(
            "--returns",
            metavar="FILE",
            help="Separate returns file (order_id or customer_id, return_date, quantity, amount).",
            show_default=False,
        ),
    ] = None,
    spec_file: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            metavar="FILE",
            help="YAML report spec (inputs, columns, period, active_window, as_of, sections, fail_if, output); command-line options override it.",
            show_default=False,
            rich_help_panel=REPORT,
        ),
    ] = None,
    sections: Annotated[
        list[str] | None,
        typer.Option(
            "--section",
            metavar="SECTION",
            help=f"Only these sections, in this order (repeatable): {', '.join(SECTIONS)}.",
            show_default=False,
            rich_help_panel=REPORT,
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", metavar="TEXT", help="Title of the report.", rich_help_panel=OUTPUT
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option("--today", help="Pretend today is this date (YYYY-MM-DD).", hidden=True),
    ] = None,
    ci: Confidence = None,
) -> None:
    """One report file: KPIs, retention and churn, revenue bridge, cohorts, CLV and returns, with charts.

    The kind follows --output's extension: .html (one self-contained page),
    .md (charts as SVG files beside it), .xlsx (a sheet per table) or .json.
    Sections whose inputs are missing are left out with a note. --as-of also
    takes today, last_complete_week, last_complete_month, last_complete_quarter
    or last_complete_year. --fail-if takes [TABLE.]COLUMN OP NUMBER and exits 1
    after the report is written.
    """
    from retcalc import manifest
    from retcalc.cli import common as c
    from retcalc.report.alerts import check
    from retcalc.report.build import Sources, build_report
    from retcalc.report.output import ReportFormat, write_report
    from retcalc.report.spec import load_spec

    def body() -> None:
        today_date = parse_date_option(today, "--today") or dt.date.today()
        spec = load_spec(spec_file) if spec_file is not None else None
        settings = _settings(
            common,
            ctx,
            spec,
            returns_file=returns_file,
            sections=sections,
            title=title,
            today=today_date,
            ci=ci,
        )
        metric_params = c.params(settings.common)
        loaded = _load(settings, today_date)
        _record(settings, loaded, metric_params)
        # Read once: every section calls the Python API on these.
        inputs = c.Inputs(loaded.orders, loaded.customers)
        sources = Sources(
            orders=inputs.orders_api(),
            customers=inputs.customers_api(),
            returns=loaded.returns.frame.lazy() if loaded.returns else None,
            returns_name=loaded.returns.name if loaded.returns else None,
        )
        with progress("Computing the report"):
            # The basis and range the report states (each section computes its own table).
            prep = c.prepare(
                settings.common, inputs, metric_params, anonymous=True, with_runs=False
            )
            document = build_report(
                sources,
                prep=prep,
                params=metric_params,
                sections=settings.sections,
                charts=settings.fmt in (ReportFormat.html, ReportFormat.markdown),
                title=settings.title,
                today=today_date,
                version=__version__,
                ci=settings.ci,
            )
        output = settings.output
        if output is None:
            assert spec is not None
            output = spec.output_path(
                as_of=metric_params.as_of or prep.data_end,
                period=metric_params.period,
                today=today_date,
            )
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RetcalcError(
                    f"cannot create {output.parent} for the report: {exc.strerror or exc}"
                ) from None
        for left_out in document.omitted:
            warn(f"{left_out.title} left out: {left_out.reason}")
        run_manifest = manifest.build()
        document = dataclasses.replace(document, manifest=run_manifest)
        with progress(f"Writing {output}"):
            written = write_report(document, output, settings.fmt, protected_paths=loaded.paths)
            if settings.fmt is not ReportFormat.json:  # JSON holds it; beside the others
                beside = output.with_name(output.name + manifest.SUFFIX)
                manifest.write(beside, run_manifest, loaded.paths)
                written.append(beside)
        for path in written:
            typer.echo(f"wrote {path}", err=True)
        crossed = check(document, settings.alerts)
        if crossed:
            raise ThresholdCrossed("\nretcalc: ".join(crossed))

    run(body, debug=common.debug)
