"""From parsed options to loaded inputs and metric parameters, and the shared output step
of the period tables (no computing here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import typer

from retcalc import api, manifest
from retcalc.cli.options import Common
from retcalc.cli.runner import emit, progress, warn
from retcalc.engines import Engine, Level
from retcalc.errors import InputError, ThresholdCrossed, UsageError
from retcalc.io.batched import load_order_events, reads_in_batches
from retcalc.io.dimensions import parse_by, read_columns
from retcalc.io.frames import Loaded, LoadOptions, input_paths, load_customers, load_orders
from retcalc.io.load import open_table
from retcalc.metrics.common import Params, Prepared
from retcalc.periods import back, parse_date_option, parse_duration
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

    def take_orders(self) -> pl.LazyFrame:
        """The orders, handed over: ``self`` keeps none of their rows afterwards (what it
        tells of the input, its paths and name, stays), so the rows' memory goes as soon
        as the caller is done with them, not when the command ends."""
        assert self.orders is not None
        frame = self.orders.frame
        self.orders = dataclasses.replace(self.orders, frame=frame.clear())
        return frame.lazy()

    def orders_api(self, *, hand_over: bool = False) -> api.Orders:
        """The orders as the Python API takes them; ``hand_over``: the metric may let
        their rows go once read (:meth:`take_orders`)."""
        assert self.orders is not None
        orders = api.Orders(self.orders, handed_over=hand_over)
        if hand_over:
            self.orders = dataclasses.replace(self.orders, frame=self.orders.frame.clear())
        return orders

    def customers_api(self) -> api.Customers | None:
        return api.Customers(self.customers) if self.customers else None


def load_options(common: Common) -> LoadOptions:
    """The reading options given on the command line and in the config."""
    return api.load_options(
        columns=common.order_flags,
        customer_columns=common.customer_flags,
        config=common.config,
        statuses=common.status_map or (),
        strict=common.strict,
        date_format=common.date_format,
        encoding=common.encoding,
        layout=common.source,
        tz=common.tz,
        decimal=common.decimal,
        dedupe=common.dedupe,
        as_of=common.as_of,
        amount_level=common.amount_level,
        currency=common.currency,
        fx=common.fx,
        report_currency=common.report_currency,
        amount_scale=common.amount_scale,
    )


def config_path(common: Common) -> Path | None:
    """The config file read for this run, if any."""
    if common.config is not None:
        return common.config
    default = Path("retcalc.yaml")
    return default if default.is_file() else None


def range_options(common: Common) -> dict[str, Any]:
    """The range and ``--by`` options, as the API's keyword arguments."""
    return {
        "start": common.start,
        "end": common.end,
        "as_of": common.as_of,
        "by": tuple(common.by or ()),
    }


def metric_options(common: Common) -> dict[str, Any]:
    """The period, window, range and ``--by`` options, as the API's keyword arguments."""
    return {"period": common.period, "window": common.active_window, **range_options(common)}


def params(common: Common, *, shows: Collection[str] = (), command: str = "") -> Params:
    """The period, window and range options as metric parameters (checked before any
    input is read); a ``--by`` column named like a column of the ``command``'s table
    (``shows``) is refused."""
    return api.metric_params(**metric_options(common), shows=shows, command=command)


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
    if orders.remote is not None:  # on Spark, already cut at --as-of
        last = orders.remote.last_day
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
    given = common.manifest is not None and common.output is not None
    if given and common.manifest.resolve() == common.output.resolve():  # type: ignore[union-attr]
        raise UsageError(
            f"--manifest {common.manifest} is also the --output: name another file "
            f"(e.g. {common.output}{manifest.SUFFIX})"
        )
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
    remote: bool = False,
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
    days (retention), so a large input keeps nothing else of its lines. ``remote``: the
    command can run on Spark's executors (:mod:`retcalc.engines.spark.partials`) when the
    orders alone are read and no ``first:`` dimension is asked, so the rows stay there.
    """
    check_output_early(common)
    options = load_options(common)
    if common.orders == "-" and common.customers == "-":
        raise UsageError("only one input can be read from stdin ('-')")
    dims = parse_by(common.by or ())
    by = read_columns(dims)  # first:DIM reads DIM
    if common.engine is Engine.spark:
        remote = remote and not common.customers and not any(d.first for d in dims)
        orders = _load_on_spark(
            common, options, need_amount=need_amount, by=by, level=level, remote=remote
        )
    else:
        if common.spark_master is not None:
            raise UsageError("--spark-master is for --engine spark")
        if common.spark_conf:
            raise UsageError("--conf is for --engine spark")
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
    manifest.record("orders", orders)
    customers = None
    if common.customers:
        with progress(f"Reading {common.customers}"):
            customers = load_customers(common.customers, options)
        for message in customers.warnings:
            warn(message)
        manifest.record("customers", customers)
    config = config_path(common)
    inputs = Inputs(orders, customers, (config,) if config is not None else ())
    if common.output is not None and str(common.output) != "-":
        check_output_path(common.output, inputs.paths)
    assert inputs.orders is not None
    inputs.orders, inputs.customers = api.attach_dimensions(inputs.orders, inputs.customers, by)
    return inputs


def _load_on_spark(
    common: Common,
    options: LoadOptions,
    *,
    need_amount: bool,
    by: tuple[str, ...],
    level: Level | None,
    remote: bool,
) -> Loaded:
    """The orders read and reduced on Spark; stderr says where the work ran."""
    if level is None:
        raise UsageError(f"--engine spark is available on {SPARK_COMMANDS}")
    if level is Level.pieces:
        level = Level.lines  # the metric sums the lines into pieces itself
    from retcalc.engines.spark.load import find_source, load_orders_spark
    from retcalc.engines.spark.session import get_session, parse_conf

    find_source(common.orders)  # a missing file or stdin is refused before Spark starts
    conf = parse_conf(common.spark_conf)
    with progress("Starting Spark"):
        spark, where = get_session(common.spark_master, conf)
    with progress(f"Reading {common.orders} on {where}"):
        orders = load_orders_spark(
            spark,
            common.orders,
            options,
            need_amount=need_amount,
            dimensions=by,
            level=level,
            remote=remote,
        )
    print(f"retcalc: computed on {where}", file=sys.stderr, flush=True)
    return orders


def prepare(
    common: Common,
    inputs: Inputs,
    metric_params: Params,
    *,
    anonymous: bool = False,
    with_runs: bool = True,
) -> Prepared:
    """:func:`retcalc.api.prepare` on the inputs read, on the ``--basis`` asked."""
    return api.prepare(
        inputs.orders_api(),
        inputs.customers_api(),
        metric_params,
        basis=common.basis,
        anonymous=anonymous,
        with_runs=with_runs,
    )


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


def plot_targets(common: Common, plot: bool) -> tuple[bool, bool]:
    """Where ``--plot`` draws: (under a terminal table on standard output, into an
    html page's images); neither for other outputs (said on stderr)."""
    chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
    to_stdout = common.output is None or str(common.output) == "-"
    text = plot and chosen is OutputFormat.table and to_stdout
    page = plot and chosen is OutputFormat.html
    if plot and not (text or page):
        warn(
            "--plot draws under a table on standard output or into an html page; "
            "no chart with this output"
        )
    return text, page


def executors_write(common: Common, per_customer: bool) -> Path | None:
    """The Parquet directory the Spark executors write ``--per-customer`` rows to
    (``--output`` in Parquet with ``--engine spark``), or None (the table is collected)."""
    output = common.output
    if common.engine is not Engine.spark or not per_customer or output is None:
        return None
    # As load: a customers file or a first: dimension keeps the rows on the driver.
    if str(output) == "-" or common.customers or any(d.first for d in parse_by(common.by or ())):
        return None
    if resolve_format(common.fmt, output, stdout_is_tty=False) is not OutputFormat.parquet:
        return None
    if common.fail_if:
        raise UsageError(
            "--fail-if is not checked on rows the Spark executors write (--per-customer "
            "--output in Parquet): drop it, or write CSV or JSON"
        )
    return output


def load_for_executors(common: Common, write_to: Path, **options: Any) -> Inputs:
    """The orders left on Spark for the executors to write ``write_to`` (a directory,
    which must be none of the inputs nor hold or lie in one)."""
    inputs = load(dataclasses.replace(common, output=None), remote=True, **options)
    target = write_to.resolve()
    for path in inputs.paths:
        source = Path(path).resolve()
        if target == source or target in source.parents or source in target.parents:
            raise UsageError(f"refusing to write over input {path}; choose another --output")
    return inputs


def write_on_executors(
    common: Common, write_to: Path, compute: Any, level: Level, what: str
) -> None:
    """``--per-customer`` rows of the API function ``compute`` written by the Spark
    executors to ``write_to`` (:func:`executors_write`), never collected; stderr says how
    many."""
    inputs = load_for_executors(common, write_to, need_amount=True, level=level)
    with progress(f"Writing {what} on the executors"):
        done = compute(
            inputs.orders_api(hand_over=True),
            per_customer=True,
            write_to=write_to,
            **range_options(common),
        )
    say_written(done["customers"].item(), write_to)


def say_written(written: int, path: Path) -> None:
    print(
        f"retcalc: {written} customers written to {path} (a Parquet directory, by the Spark "
        "executors)",
        file=sys.stderr,
        flush=True,
    )
