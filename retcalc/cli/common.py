"""From parsed options to loaded inputs and metric parameters, and the shared output step
of the period tables (no computing here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import typer

from retcalc.cli.options import Common
from retcalc.cli.runner import emit, progress, warn
from retcalc.engines import Engine, Level
from retcalc.errors import InputError, ThresholdCrossed, UsageError
from retcalc.io import dates
from retcalc.io.batched import load_order_events, reads_in_batches
from retcalc.io.currency import MoneyOptions
from retcalc.io.frames import Loaded, LoadOptions, input_paths, load_customers, load_orders
from retcalc.io.load import HIDDEN, open_table
from retcalc.io.mapping import load_config
from retcalc.io.numbers import mark_from_flag
from retcalc.meanings import parse_status_map
from retcalc.metrics.events import free_bits
from retcalc.metrics.keys import encode_customers
from retcalc.metrics.retention import (
    Basis,
    Params,
    Prepared,
    prepare_activity,
    prepare_subscription,
)
from retcalc.periods import back, parse_date_option, parse_duration, parse_window
from retcalc.render import OutputFormat, resolve_format
from retcalc.render.atomic import check_output_path


@dataclass
class Inputs:
    """Loaded inputs, ready for the metrics."""

    orders: Loaded | None
    customers: Loaded | None
    others: tuple[Path, ...] = ()  # the config file: never overwritten by --output either

    @property
    def paths(self) -> list[Path]:
        return [
            *input_paths(
                self.orders.table if self.orders else None,
                self.customers.table if self.customers else None,
            ),
            *(p.resolve() for p in self.others),
        ]

    def orders_frame(self) -> pl.LazyFrame | None:
        return self.orders.frame.lazy() if self.orders else None

    def take_orders(self) -> pl.LazyFrame:
        """The orders, handed over: ``self`` keeps none of their rows afterwards (what it
        tells of the input, its paths and name, stays), so the rows' memory goes as soon
        as the caller is done with them, not when the command ends."""
        assert self.orders is not None
        frame = self.orders.frame
        self.orders = dataclasses.replace(self.orders, frame=frame.clear())
        return frame.lazy()

    def customers_frame(self) -> pl.LazyFrame | None:
        return self.customers.frame.lazy() if self.customers else None


def amount_level(text: str) -> str:
    """``--amount-level``: ``auto`` or ``line``."""
    value = text.strip().lower()
    if value not in ("auto", "line"):
        raise UsageError(
            f"--amount-level {text!r}: use auto (an amount repeated on every line of an order "
            "is the order's total) or line (each line's own value)"
        )
    return value


def load_options(common: Common) -> LoadOptions:
    """The reading options given on the command line and in the config."""
    return LoadOptions(
        order_flags=common.order_flags,
        customer_flags=common.customer_flags,
        config=load_config(common.config),
        date_style=dates.style_from_flag(common.date_format) if common.date_format else None,
        encoding=common.encoding,
        source=common.source,
        tz=dates.check_zone(common.tz) if common.tz else None,
        decimal=mark_from_flag(common.decimal) if common.decimal else None,
        dedupe=common.dedupe,
        as_of=parse_date_option(common.as_of, "--as-of"),
        status_map=parse_status_map(common.status_map or ()),
        strict=common.strict,
        amount_level=amount_level(common.amount_level),
        money=MoneyOptions(
            currency=common.currency,
            fx=common.fx,
            report_currency=common.report_currency,
            amount_scale=common.amount_scale,
        ),
    )


def config_path(common: Common) -> Path | None:
    """The config file read for this run, if any."""
    if common.config is not None:
        return common.config
    default = Path("retcalc.yaml")
    return default if default.is_file() else None


def params(common: Common, *, shows: Collection[str] = (), command: str = "") -> Params:
    """The period, window and range options as metric parameters; a ``--by`` column
    named like a column of the ``command``'s table (``shows``) is refused."""
    by = tuple(dict.fromkeys(common.by or ()))
    refuse_by_clash(by, shows, command)
    start = parse_date_option(common.start, "--start")
    end = parse_date_option(common.end, "--end")
    as_of = parse_date_option(common.as_of, "--as-of")
    if start and end and end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    if as_of and start and as_of <= start:
        raise UsageError(f"--as-of {as_of} is not after --start {start}: nothing would be counted")
    return Params(
        period=common.period,
        window=parse_window(common.active_window),
        start=start,
        end=end,
        as_of=as_of,
        by=by,
    )


def refuse_by_clash(by: Sequence[str], shows: Collection[str], command: str) -> None:
    """Refuse a ``--by`` column named like a column of the output table ``shows``."""
    for key in by:
        if key in shows:
            raise UsageError(
                f"--by {key}: the {command} table has a column of that name "
                f"({', '.join(shows)}); group by a copy of the column under another name "
                f"(e.g. by_{key})"
            )


def check_fresh(
    common: Common,
    orders: Loaded,
    *,
    today: dt.date | None = None,
    rule: bool = False,
    max_age_flag: str = "--max-age",
) -> None:
    """Stale data: the last order more than one ``--period`` (default a month) before
    ``--as-of`` is said on stderr; older than ``--max-age`` before it, exit 2.

    The age is counted from the last order before ``--as-of`` to ``--as-of``; or, when
    ``--as-of`` is not given or comes from a rule (``rule``: a report's ``today`` or
    ``last_complete_month``...), from the file's last order to today (a rule leaves the
    current period out of the figures, not out of the check). Without ``--as-of`` only
    ``--max-age`` is checked. ``max_age_flag`` names where the limit
    came from in the message (a report spec's ``max_age``).
    """
    as_of = parse_date_option(common.as_of, "--as-of")
    limit = parse_duration(common.max_age, max_age_flag) if common.max_age else None
    if as_of is None and limit is None:
        return
    today = today or dt.date.today()
    if as_of is None or rule:
        reference, named = today, f"today ({today})"
    else:
        reference, named = as_of, f"--as-of {as_of}"
    frame = orders.frame.lazy()
    if reference == as_of:  # counted to --as-of: the orders it leaves out are not looked at
        frame = frame.filter(pl.col("day") < as_of)
    last: dt.date | None = frame.select(pl.col("day").max()).collect().item()
    if last is None:
        return  # no rows before --as-of: the metric says so
    age = (reference - last).days
    told = f"{orders.name}: the last order is on {last}, {age} days before {named}"
    if limit is not None:
        if last < back(reference, limit):
            raise InputError(
                f"{told}, more than {limit} ({max_age_flag}): the data is stale. Refresh the "
                f"export; if the data is complete only up to {last}, pass --as-of "
                f"{last + dt.timedelta(days=1)}; or allow older data with a longer {max_age_flag}"
            )
        return  # within the age the user allows: no warning either
    if last < back(reference, common.period):
        warn(
            f"{told}, more than one {common.period}: the periods after it count no orders, "
            f"as if every customer had stopped buying. Refresh the export, or pass --as-of "
            f"{last + dt.timedelta(days=1)} to end the figures with the data; "
            f"--max-age DURATION makes this an error (exit 2)"
        )


def refuse_given(ctx: typer.Context, command: str, reasons: Mapping[str, str]) -> None:
    """Exit 2 on an option given on the command line that ``command`` would not use:
    ``reasons`` maps each such parameter's name to why it does not apply."""
    for name, why in reasons.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name != "DEFAULT":
            flag = next((max(p.opts, key=len) for p in ctx.command.params if p.name == name), name)
            raise UsageError(f"{command} takes no {flag}: {why}")


def check_output_early(common: Common) -> None:
    """Refuse an output that cannot be written before any work: an unknown extension, or
    Parquet bytes to a terminal."""
    if common.output is not None and str(common.output) != "-":
        resolve_format(common.fmt, common.output, stdout_is_tty=False)
        return
    if common.fmt is OutputFormat.parquet and sys.stdout.isatty():
        raise UsageError(
            "refusing to write binary parquet to a terminal; "
            "use --output FILE.parquet or redirect stdout"
        )


#: The commands that run on Spark, for the refusal on the others.
SPARK_COMMANDS = "retention, churn, cohorts, returns, kpis, clv and rfm"


def load(
    common: Common,
    *,
    need_amount: bool = False,
    level: Level | None = None,
    anonymous: bool = False,
    revenue: bool = True,
) -> Inputs:
    """Read the orders (and customers) named on the command line.

    The output is checked first (its format), and again once the inputs are
    known (it must not be one of them), so that a refusal comes before the work.

    ``level``: how far the orders may be reduced for this command (see
    :class:`retcalc.engines.Level`): by ``--engine spark``, and for a large input at
    ``days``, ``orders`` and ``pieces`` by :mod:`retcalc.io.batched`; a command that passes none
    does not run on Spark. ``anonymous``: the command never shows a customer id, so a large
    input without a customers file may be summed under hashed ids
    (:mod:`retcalc.io.batched`). ``revenue=False``: the command reads only purchase
    days (retention), so a large input keeps nothing else of its lines.
    """
    check_output_early(common)
    options = load_options(common)
    if common.orders == "-" and common.customers == "-":
        raise UsageError("only one input can be read from stdin ('-')")
    by = tuple(dict.fromkeys(common.by or ()))
    if common.engine is Engine.spark:
        orders = _load_on_spark(common, options, need_amount=need_amount, by=by, level=level)
    else:
        if common.spark_master is not None:
            raise UsageError("--spark-master is for --engine spark")
        with progress(f"Reading {common.orders}"):
            table = open_table(common.orders, encoding=options.encoding)
            if level in (Level.days, Level.orders, Level.pieces) and reads_in_batches(table):
                orders = load_order_events(
                    common.orders,
                    options,
                    need_amount=need_amount,
                    dimensions=by,
                    table=table,
                    anonymous=anonymous and not common.customers,
                    revenue=revenue,
                    orders=level is Level.orders,
                    pieces=level is Level.pieces,
                )
            else:
                orders = load_orders(
                    common.orders, options, need_amount=need_amount, dimensions=by, table=table
                )
    for message in orders.warnings:
        warn(message)
    check_fresh(common, orders)
    customers = None
    if common.customers:
        with progress(f"Reading {common.customers}"):
            customers = load_customers(common.customers, options)
        for message in customers.warnings:
            warn(message)
    config = config_path(common)
    inputs = Inputs(orders, customers, (config,) if config is not None else ())
    if common.output is not None and str(common.output) != "-":
        check_output_path(common.output, inputs.paths)
    _attach_dimensions(inputs, by)
    return inputs


def _load_on_spark(
    common: Common,
    options: LoadOptions,
    *,
    need_amount: bool,
    by: tuple[str, ...],
    level: Level | None,
) -> Loaded:
    """The orders read and reduced on Spark; stderr says where the work ran."""
    if level is None:
        raise UsageError(f"--engine spark is available on {SPARK_COMMANDS}")
    if level is Level.pieces:
        level = Level.lines  # the metric sums the lines into pieces itself
    from retcalc.engines.spark.load import find_source, load_orders_spark
    from retcalc.engines.spark.session import get_session

    find_source(common.orders)  # a missing file or stdin is refused before Spark starts
    with progress("Starting Spark"):
        spark, where = get_session(common.spark_master)
    with progress(f"Reading {common.orders} on {where}"):
        orders = load_orders_spark(
            spark, common.orders, options, need_amount=need_amount, dimensions=by, level=level
        )
    print(f"retcalc: computed on {where}", file=sys.stderr, flush=True)
    return orders


def _attach_dimensions(inputs: Inputs, by: tuple[str, ...]) -> None:
    """Make every ``--by`` column available on the orders (and customers) frames."""
    assert inputs.orders is not None
    for dim in by:
        in_orders = dim in inputs.orders.frame.columns and dim not in HIDDEN
        in_customers = inputs.customers is not None and dim in inputs.customers.frame.columns
        if not in_orders and in_customers:
            assert inputs.customers is not None
            per_customer = inputs.customers.frame.select("customer_id", dim).unique(
                "customer_id", keep="first", maintain_order=True
            )
            inputs.orders.frame = inputs.orders.frame.join(
                per_customer, on="customer_id", how="left"
            )
        elif not in_orders:
            columns = list(inputs.orders.table.columns)
            if inputs.customers is not None:
                columns += [f"{c} (customers)" for c in inputs.customers.table.columns]
            raise InputError(
                f"--by {dim}: no such column in {inputs.orders.name}"
                + (" or the customers file" if inputs.customers else "")
                + f"; columns are: {', '.join(columns)}"
            )
        if inputs.customers is not None and dim not in inputs.customers.frame.columns:
            per_customer = inputs.orders.frame.select("customer_id", dim).unique(
                "customer_id", keep="first", maintain_order=True
            )
            inputs.customers.frame = inputs.customers.frame.join(
                per_customer, on="customer_id", how="left"
            )


def coded(
    orders: pl.LazyFrame, other: pl.LazyFrame | None = None
) -> tuple[pl.LazyFrame, pl.LazyFrame | None]:
    """``orders`` and ``other`` (a frame that shares their customer ids, or ``None``) with
    integer customer keys (``keys.encode_customers``), for a command that never shows a
    customer id: the same table, computed faster. Collected here (the inputs are in
    memory); the keys leave low bits free for the orders' days."""
    lines = orders.collect()
    bits = free_bits(lines["day"]) if "day" in lines.columns else 0
    first, second = encode_customers(
        lines, other.collect() if other is not None else None, free_bits=bits
    )
    assert first is not None
    return first.lazy(), second.lazy() if second is not None else None


def prepare(
    common: Common,
    inputs: Inputs,
    metric_params: Params,
    *,
    anonymous: bool = False,
    with_runs: bool = True,
) -> Prepared:
    """The groundwork for period metrics on the chosen basis.

    ``anonymous``: the caller shows only totals, never a customer id, so ids are
    replaced by integer codes first (the same table, computed faster).
    ``with_runs=False``: the caller never reads the activity runs (cohorts).
    """
    customers = inputs.customers_frame()
    has_signup = customers is not None and "signup_date" in customers.collect_schema()
    basis = common.basis or (Basis.subscription if has_signup else Basis.activity)
    if basis is Basis.subscription and (customers is None or not has_signup):
        raise UsageError("--basis subscription needs --customers with a signup_date column")
    orders = inputs.orders_frame()
    assert orders is not None
    if anonymous:
        subscribers = customers if basis is Basis.subscription else None
        orders, coded_customers = coded(orders, subscribers)
        if coded_customers is not None:
            customers = coded_customers
    if basis is Basis.subscription:
        assert customers is not None
        return prepare_subscription(customers, orders, metric_params)
    return prepare_activity(orders, metric_params, with_runs=with_runs)


def emit_with_sparklines(
    table: pl.DataFrame,
    common: Common,
    inputs: Inputs,
    *,
    rates: Sequence[str],
    keys: Sequence[str],
    title: str,
    chart_title: str,
    plot: bool,
) -> None:
    """``emit`` a period table; with ``--plot``, sparklines of ``rates`` under it (terminal
    table only). A crossed ``--fail-if`` still exits 1, after the chart."""
    chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
    to_stdout = common.output is None or str(common.output) == "-"
    draw = plot and chosen is OutputFormat.table and to_stdout
    if plot and not draw:
        warn("--plot draws under a table on standard output; no chart with this output")
    crossed: ThresholdCrossed | None = None
    try:
        emit(
            table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=rates,
            title=title,
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=keys,
        )
    except ThresholdCrossed as exc:
        crossed = exc  # the chart belongs under the table all the same
    if draw:
        from retcalc.render.charts import print_sparklines  # Rich: only when drawn

        print_sparklines(table, columns=rates, keys=keys, title=chart_title)
    if crossed is not None:
        raise crossed
