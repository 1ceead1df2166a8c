"""The Python API (SPEC §7): read an export, compute a metric, get a Polars DataFrame.

Every function takes keyword-only parameters named as the command-line options
(``period=``, ``window=``, ``by=``, ``as_of=``, ``start=``, ``end=``), with the same
meanings and the same checks. Orders are what :func:`read_orders` returns, or
anything it reads: a path, or a Polars, pandas or PyArrow frame whose columns are
canonical (``customer_id``, ``order_date``, ``amount``...) or found the way the
command line finds them. Errors are :class:`retcalc.RetcalcError` subclasses;
what reading had to guess is said as a :class:`retcalc.RetcalcWarning`.

The command line is a layer over these functions: it reads with the same readers
(in batches or on Spark for large inputs), calls them, and renders the result.

>>> import polars as pl, retcalc
>>> orders = pl.DataFrame({
...     "customer_id": ["a", "b", "a", "c"],
...     "order_date": ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10"],
...     "amount": [10.0, 20.0, 15.0, 5.0],
... })
>>> retcalc.retention(orders, period="month").select(
...     "period_start", "customers_start", "new_customers", "retained"
... ).rows()
[(datetime.date(2024, 1, 1), 0, 2, 0), (datetime.date(2024, 2, 1), 2, 1, 2)]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from retcalc.engines import Level, Rows
from retcalc.errors import InputError, RetcalcWarning, UsageError
from retcalc.io import dates
from retcalc.io.currency import MoneyOptions
from retcalc.io.dimensions import Dimension, parse_by, read_columns
from retcalc.io.frames import Loaded, LoadOptions, load_customers, load_orders
from retcalc.io.load import Table, open_table, table_from_frame
from retcalc.io.mapping import load_config
from retcalc.io.numbers import mark_from_flag
from retcalc.kernels.keys import encode_customers
from retcalc.kernels.words import free_bits
from retcalc.meanings import parse_status_map
from retcalc.metrics.bootstrap import RESAMPLES, Resampling
from retcalc.metrics.common import (
    Basis,
    Params,
    Prepared,
    prepare_activity,
    prepare_subscription,
)
from retcalc.metrics.intervals import RATIOS, with_intervals
from retcalc.periods import Period, Window, parse_date_option, parse_window

if TYPE_CHECKING:
    from retcalc.changes import Result as DiffResult
    from retcalc.metrics.clv import ModelParams
    from retcalc.metrics.clv.holdout import Holdout
    from retcalc.metrics.clv.summary import TimeUnit
    from retcalc.metrics.forecast import Forecast
    from retcalc.metrics.survival import LogRank

__all__ = [
    "Customers",
    "Orders",
    "churn",
    "cohorts",
    "compare",
    "customers",
    "diff",
    "forecast",
    "forecast_fit",
    "read_customers",
    "read_orders",
    "retention",
    "run_manifest",
    "survival",
]

#: What a frame argument may be: Polars, pandas or PyArrow (or a path to read).
Source = Any


@dataclass
class _Read:
    """Rows a reader read, and what it learnt while reading them."""

    loaded: Loaded

    @property
    def frame(self) -> pl.DataFrame:
        return self.loaded.frame

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.loaded.warnings)

    def lazy(self) -> pl.LazyFrame:
        return self.loaded.frame.lazy()


@dataclass
class Orders(_Read):
    """Order rows as read by :func:`read_orders`.

    ``frame`` has the canonical columns (``customer_id``, ``day``, and those found of
    ``amount``, ``refund_amount``, ``quantity``, ``order_id``, ``status``, and the
    ``by`` columns), one row per order line kept. :attr:`level` says what a row is:
    :attr:`Level.lines` for whatever :func:`read_orders` returns; the command line's
    batched and Spark readers hand over rows already summed per customer and day
    (:class:`retcalc.engines.Holds`, said by the reader).
    """

    #: The caller keeps no other reference to the rows: a metric may let them go once it
    #: has read them (the command line's large inputs), leaving ``frame`` empty.
    handed_over: bool = False

    @property
    def level(self) -> Level:
        return self.loaded.holds.level

    def rows(self) -> Rows:
        """The rows for a metric, with what they hold: handed over when
        :attr:`handed_over` (``frame`` keeps only the columns then), else a view of
        ``frame``."""
        frame = self.loaded.frame
        if self.handed_over:
            self.loaded = dataclasses.replace(self.loaded, frame=frame.clear())
        return Rows(frame.lazy(), self.loaded.holds)

    def view(self) -> Rows:
        """The rows for a metric, with what they hold, never handed over."""
        return Rows(self.loaded.frame.lazy(), self.loaded.holds)


@dataclass
class Customers(_Read):
    """Customer rows as read by :func:`read_customers`: ``customer_id`` and those found of
    ``signup_date``, ``churn_date``, ``segment``, ``cost_to_serve``."""


# Reading.


def _table(source: Source, encoding: str) -> tuple[str, Table]:
    """A path (or ``-``) or a Polars, pandas or PyArrow frame as a table to read."""
    if isinstance(source, str | Path):
        spec = str(source)
        return spec, open_table(spec, encoding=encoding)
    frame = _polars(source)
    return "<frame>", table_from_frame(frame, "<frame>")


def _polars(source: Source) -> pl.DataFrame | pl.LazyFrame:
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        return source
    module = type(source).__module__
    if module.startswith("pandas"):
        return pl.from_pandas(source)
    if module.startswith("pyarrow"):
        converted = pl.from_arrow(source)
        if isinstance(converted, pl.DataFrame):
            return converted
    raise UsageError(
        f"cannot read a {type(source).__name__}: give a path, or a Polars, pandas or PyArrow table"
    )


def load_options(
    *,
    columns: Mapping[str, str | None] | None = None,
    customer_columns: Mapping[str, str | None] | None = None,
    config: str | Path | None = None,
    statuses: Mapping[str, str] | Sequence[str] | None = None,
    strict: bool = False,
    date_format: str | None = None,
    encoding: str = "utf8",
    layout: str | None = None,
    tz: str | None = None,
    decimal: str | None = None,
    dedupe: bool = False,
    as_of: str | dt.date | None = None,
    amount_level: str = "auto",
    currency: str | None = None,
    fx: str | None = None,
    report_currency: str | None = None,
    amount_scale: float | None = None,
) -> LoadOptions:
    """How to read inputs, from the options of the command line (one place for both).

    ``columns``: canonical name -> the input's column (``{"customer_id": "Email"}``),
    as ``--customer-col`` and the other column flags; ``statuses``: raw status ->
    meaning (``{"Versandt": "paid"}``) or ``RAW=MEANING`` texts, as ``--status-map``.
    """
    if amount_level.strip().lower() not in ("auto", "line"):
        raise UsageError(
            f"--amount-level {amount_level!r}: use auto (an amount repeated on every line of "
            "an order is the order's total) or line (each line's own value)"
        )
    status_map = (
        dict(statuses) if isinstance(statuses, Mapping) else parse_status_map(tuple(statuses or ()))
    )
    return LoadOptions(
        order_flags=dict(columns or {}),
        customer_flags=dict(customer_columns or {}),
        config=load_config(Path(config) if config is not None else None),
        date_style=dates.style_from_flag(date_format) if date_format else None,
        encoding=encoding,
        source=layout,
        tz=dates.check_zone(tz) if tz else None,
        decimal=mark_from_flag(decimal) if decimal else None,
        dedupe=dedupe,
        as_of=_date(as_of, "--as-of"),
        status_map=status_map,
        strict=strict,
        amount_level=amount_level.strip().lower(),
        money=MoneyOptions(
            currency=currency, fx=fx, report_currency=report_currency, amount_scale=amount_scale
        ),
    )


def read_orders(
    source: Source,
    *,
    by: str | Sequence[str] = (),
    need_amount: bool = False,
    warn: bool = True,
    **options: Any,
) -> Orders:
    """Read orders from a path (CSV, Parquet, a directory or glob of them) or a frame.

    Reads as the command line does: the export's layout and columns are found
    (``columns=`` names them otherwise), statuses get their meanings, ids, dates,
    numbers and currencies are checked. ``by``: columns kept for grouping;
    ``need_amount``: refuse an input without an amount column. The other keyword
    options are those of :func:`load_options`. What reading had to guess is said as
    a :class:`retcalc.RetcalcWarning` (``warn=False``: kept in ``.warnings`` only).

    >>> import polars as pl, retcalc
    >>> orders = retcalc.read_orders(pl.DataFrame({
    ...     "Customer": ["a", "b"], "Date": ["2024-01-05", "2024-01-06"], "Total": [1.5, 2]
    ... }), columns={"customer_id": "Customer", "order_date": "Date", "amount": "Total"})
    >>> orders.frame.select("customer_id", "day", "amount").rows()
    [('a', datetime.date(2024, 1, 5), 1.5), ('b', datetime.date(2024, 1, 6), 2.0)]
    """
    load = load_options(**options)
    spec, table = _table(source, load.encoding)
    columns = read_columns(parse_by(by))
    return _read_table(spec, table, load, by=columns, need_amount=need_amount, warn=warn)


def _read_table(
    spec: str,
    table: Table,
    load: LoadOptions,
    *,
    by: Sequence[str],
    need_amount: bool,
    warn: bool = True,
) -> Orders:
    loaded = load_orders(spec, load, need_amount=need_amount, dimensions=by, table=table)
    if warn:
        _say(loaded.warnings)
    return Orders(loaded)


def read_customers(source: Source, *, warn: bool = True, **options: Any) -> Customers:
    """Read customers (``customer_id`` and any of ``signup_date``, ``churn_date``,
    ``segment``, ``cost_to_serve``) from a path or a frame; ``customer_columns=`` names
    the input's columns, the other options as :func:`read_orders`."""
    load = load_options(**options)
    spec, table = _table(source, load.encoding)
    loaded = load_customers(spec, load, table=table)
    if warn:
        _say(loaded.warnings)
    return Customers(loaded)


def _say(messages: Sequence[str]) -> None:
    """What reading or computing had to guess, as :class:`RetcalcWarning` (the command
    line prints them on stderr)."""
    for message in messages:
        warnings.warn(message, RetcalcWarning, stacklevel=3)


def _orders(orders: Orders | Source, *, by: str | Sequence[str], need_amount: bool) -> Orders:
    """``orders`` as read orders: read now unless :func:`read_orders` read them already;
    with the ``first:`` dimensions of ``by`` (``--by`` values) on every row
    (:func:`with_first_values`)."""
    dims = parse_by(by)
    if isinstance(orders, Orders):
        frame = orders.frame
        missing = [d for d in read_columns(dims) if d not in frame.columns]
        if missing:
            shown = [c for c in frame.columns if not c.startswith("_")]  # not retcalc's own
            raise InputError(
                f"by {', '.join(missing)}: no such column in {orders.name} as read; read it "
                f"with read_orders(..., by=[...]); columns are: {', '.join(shown)}"
            )
        if need_amount and orders.level is Level.lines and "amount" not in frame.columns:
            raise InputError(
                f"{orders.name}: no amount column found; columns are: "
                f"{', '.join(orders.loaded.table.columns)}. Name it with --amount-col "
                "(columns={'amount': ...} in Python)"
            )
        return with_first_values(orders, dims)
    return with_first_values(read_orders(orders, by=by, need_amount=need_amount), dims)


def with_first_values(orders: Orders, dims: Sequence[Dimension]) -> Orders:
    """``orders`` with a column ``first_DIM`` on every row for each ``first:DIM`` of ``dims``:
    the customer's value of DIM on their first purchase
    (:func:`retcalc.metrics.events.first_values`), so that grouping by it puts each
    customer in one group. Rows of customers without a purchase get an empty value."""
    from retcalc.metrics.events import first_values

    firsts = {d.key: d.column for d in dims if d.first}
    if not firsts:
        return orders
    if orders.level is Level.pieces:
        raise UsageError(
            "--by first:DIM is not available here: these rows were summed per order piece; "
            "use --by DIM"
        )
    frame = orders.loaded.frame.drop(list(firsts), strict=False)
    values = first_values(Rows(frame.lazy(), orders.loaded.holds), firsts).collect()
    frame = frame.join(values, on="customer_id", how="left", maintain_order="left")
    return dataclasses.replace(orders, loaded=dataclasses.replace(orders.loaded, frame=frame))


def _customers(customers: Customers | Source | None) -> Customers | None:
    if customers is None or isinstance(customers, Customers):
        return customers
    return read_customers(customers)


def attach_dimensions(
    orders: Loaded, customers: Loaded | None, by: Sequence[str]
) -> tuple[Loaded, Loaded | None]:
    """Every ``by`` column on both frames: a column of the customers only is copied to
    each customer's orders (and one of the orders only to the customers, each
    customer's first value), so that grouping sees it on either basis."""
    from retcalc.io.load import HIDDEN

    for dim in by:
        in_orders = dim in orders.frame.columns and dim not in HIDDEN
        in_customers = customers is not None and dim in customers.frame.columns
        if not in_orders and in_customers:
            assert customers is not None
            per_customer = customers.frame.select("customer_id", dim).unique(
                "customer_id", keep="first", maintain_order=True
            )
            frame = orders.frame.join(per_customer, on="customer_id", how="left")
            orders = dataclasses.replace(orders, frame=frame)
        elif not in_orders:
            columns = list(orders.table.columns)
            if customers is not None:
                columns += [f"{c} (customers)" for c in customers.table.columns]
            raise InputError(
                f"--by {dim}: no such column in {orders.name}"
                + (" or the customers file" if customers else "")
                + f"; columns are: {', '.join(columns)}"
            )
        if customers is not None and dim not in customers.frame.columns:
            per_customer = orders.frame.select("customer_id", dim).unique(
                "customer_id", keep="first", maintain_order=True
            )
            frame = customers.frame.join(per_customer, on="customer_id", how="left")
            customers = dataclasses.replace(customers, frame=frame)
    return orders, customers


def _read_with(
    orders: Orders | Source,
    customers: Customers | Source | None,
    *,
    by: Sequence[str],
    need_amount: bool,
) -> tuple[Orders, Customers | None]:
    """Orders and customers read (unless read already), every ``by`` column on both:
    a column of the customers file groups the orders too."""
    people = _customers(customers)
    if people is None:
        return _orders(orders, by=by, need_amount=need_amount), None
    dims = parse_by(by)
    columns = read_columns(dims)
    if isinstance(orders, Orders):
        read = orders
    else:
        load = load_options()
        spec, table = _table(orders, load.encoding)
        in_orders = [d for d in columns if d in table.columns]
        read = _read_table(spec, table, load, by=in_orders, need_amount=need_amount)
    lines, subscribers = attach_dimensions(read.loaded, people.loaded, columns)
    read = _orders(dataclasses.replace(read, loaded=lines), by=by, need_amount=need_amount)
    # A first:DIM value, made on the orders, is each customer's: copied to the customers.
    lines, subscribers = attach_dimensions(read.loaded, subscribers, [d.key for d in dims])
    assert subscribers is not None
    return dataclasses.replace(read, loaded=lines), Customers(subscribers)


# Parameters.


def _on_driver(orders: Orders) -> Orders:
    """``orders`` with their rows here: rows left on Spark for the executors
    (:class:`retcalc.engines.spark.partials.Remote`) are collected, summed per customer
    and day, for a computation that needs every customer at once (a bootstrap, brackets)."""
    remote = orders.loaded.remote
    if remote is None:
        return orders
    return dataclasses.replace(orders, loaded=remote.collected(orders.loaded))


def _confidence(ci: float | None) -> None:
    """Refuse a ``ci`` level outside (0, 1) before any data is read."""
    if ci is not None:
        from retcalc.metrics.intervals import z_score

        z_score(ci)


def _resampling(ci: float | None, resamples: int, seed: int, command: str) -> Resampling | None:
    """The bootstrap of ``command``'s revenue ratios at level ``ci`` (none without it),
    refused before any data is read when ``resamples`` or ``seed`` is not usable."""
    _confidence(ci)
    return None if ci is None else Resampling(ci, resamples, seed)


def _resampled(table: pl.DataFrame, how: Resampling | None, command: str) -> pl.DataFrame:
    """``table``, having said how its bootstrap bounds were made (level, resamples and
    seed: a warning, stderr on the command line)."""
    if how is not None:
        _say([how.said(RATIOS[command])])
    return table


def _by(by: str | Sequence[str]) -> tuple[str, ...]:
    """The columns the ``by`` values group by, each once, in the order given
    (``first:channel`` groups by ``first_channel``)."""
    return tuple(d.key for d in parse_by(by))


def _date(value: str | dt.date | None, flag: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return parse_date_option(value.isoformat(), flag)
    return parse_date_option(value, flag)


def metric_params(
    *,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    shows: Collection[str] = (),
    command: str = "",
) -> Params:
    """The period, window, range and grouping of a metric, checked as on the command line;
    a ``by`` column named like a column of the ``command``'s table (``shows``) is refused."""
    keys = _by(by)
    for key in keys:
        if key in shows:
            raise UsageError(
                f"--by {key}: the {command} table has a column of that name "
                f"({', '.join(shows)}); group by a copy of the column under another name "
                f"(e.g. by_{key})"
            )
    first, last, cut = _date(start, "--start"), _date(end, "--end"), _date(as_of, "--as-of")
    if first and last and last < first:
        raise UsageError(f"--end {last} is before --start {first}")
    if cut and first and cut <= first:
        raise UsageError(f"--as-of {cut} is not after --start {first}: nothing would be counted")
    try:
        chosen = Period(period)
    except ValueError:
        names = ", ".join(p.value for p in Period)
        raise UsageError(f"--period {period!r}: use one of {names}") from None
    return Params(
        period=chosen,
        window=window if isinstance(window, Window) else parse_window(window),
        start=first,
        end=last,
        as_of=cut,
        by=keys,
    )


# The groundwork shared by the period metrics.


def coded(orders: Rows, other: pl.LazyFrame | None = None) -> tuple[Rows, pl.LazyFrame | None]:
    """``orders`` and ``other`` (a frame that shares their customer ids, or ``None``) with
    integer customer keys (``keys.encode_customers``), for a metric that never shows a
    customer id: the same table, computed faster. The keys leave low bits free for the
    orders' days. As they are when their reader keyed them already (a large input
    without a customers file)."""
    if orders.keyed:
        return orders, other
    lines = orders.frame.collect()
    bits = free_bits(lines["day"]) if "day" in lines.columns else 0
    first, second = encode_customers(
        lines, other.collect() if other is not None else None, free_bits=bits
    )
    assert first is not None
    return orders.but(first.lazy(), keyed=True), second.lazy() if second is not None else None


def basis_of(customers: Customers | None, basis: Basis | str | None = None) -> Basis:
    """The basis asked, else the subscription basis when the customers have signup dates
    (SPEC §2.2), else the activity basis."""
    has_signup = customers is not None and "signup_date" in customers.frame.columns
    try:
        chosen = Basis(basis) if basis else None
    except ValueError:
        raise UsageError(f"--basis {basis!r}: use activity or subscription") from None
    if chosen is None:
        return Basis.subscription if has_signup else Basis.activity
    if chosen is Basis.subscription and not has_signup:
        raise UsageError("--basis subscription needs --customers with a signup_date column")
    return chosen


def prepare(
    orders: Orders,
    customers: Customers | None,
    params: Params,
    *,
    basis: Basis | str | None = None,
    anonymous: bool = False,
    with_runs: bool = True,
) -> Prepared:
    """The groundwork for period metrics on the chosen basis (the subscription basis
    when the customers have signup dates, unless ``basis`` says otherwise).

    ``anonymous``: the caller shows only totals, never a customer id, so ids are
    replaced by integer codes first. ``with_runs=False``: the caller never reads the
    activity runs (cohorts).
    """
    chosen = basis_of(customers, basis)
    subscribers = customers.lazy() if customers is not None else None
    lines = orders.view()
    if anonymous:
        lines, coded_subscribers = coded(
            lines, subscribers if chosen is Basis.subscription else None
        )
        if coded_subscribers is not None:
            subscribers = coded_subscribers
    if chosen is Basis.subscription:
        assert subscribers is not None
        return prepare_subscription(subscribers, lines, params, keyed=lines.keyed)
    return prepare_activity(lines, params, with_runs=with_runs)


# The metrics.


def retention(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float | None = None,
    convention: str | None = None,
) -> pl.DataFrame:
    """Retention per period (SPEC §2.1, §2.2): customers at the start and end, new,
    retained, churned, reactivated, returning, and

    - crr = (customers_end - new_customers) / customers_start
    - retention_rate = retained / customers_start
    - churn_rate = churned / customers_start
    - repeat_rate = returning / customers_start

    A customer is active in a period when they bought within ``window`` before its end
    (activity basis), or were subscribed (subscription basis, with ``customers``
    holding signup dates). ``convention``: a vendor's definitions where they differ
    (``"chartmogul"``, ``"baremetrics"``; docs/conventions.md).
    """
    from retcalc.metrics.conventions import convention_for
    from retcalc.metrics.retention import RETENTION_COLUMNS, retention_table

    rules = convention_for(convention, "retention")
    _confidence(ci)
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=by,
        shows=RETENTION_COLUMNS, command="retention",
    )  # fmt: skip
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    remote = read.loaded.remote
    if remote is not None and basis_of(people, basis) is Basis.activity:
        return with_intervals(remote.retention(params, convention=rules), "retention", ci)
    prep = prepare(_on_driver(read), people, params, basis=basis, anonymous=True)
    return with_intervals(retention_table(prep, convention=rules), "retention", ci)


def churn(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float | None = None,
    ci_resamples: int = RESAMPLES,
    seed: int = 0,
    convention: str | None = None,
) -> pl.DataFrame:
    """Churn and revenue retention per period (SPEC §2.4): churned customers,
    churn_rate = churned / customers_start, revenue, previous_revenue, lost_revenue,
    nrr = revenue kept from last period's customers / previous_revenue, grr (the same
    without expansion), and the revenue bridge (new, expansion, contraction, churned,
    reactivation revenue, quick_ratio). With ``ci``, Wilson bounds of churn_rate and
    bootstrap bounds of nrr and grr (``ci_resamples`` resamples of the customers,
    seeded with ``seed``). ``convention``: a vendor's definitions where they differ
    (``"chartmogul"``, ``"baremetrics"``; docs/conventions.md), which add
    revenue_churn_rate."""
    from retcalc.metrics.churn import CHURN_COLUMNS, churn_table
    from retcalc.metrics.conventions import convention_for

    rules = convention_for(convention, "churn")
    resampling = _resampling(ci, ci_resamples, seed, "churn")
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=by,
        shows=CHURN_COLUMNS, command="churn",
    )  # fmt: skip
    read, people = _read_with(orders, customers, by=by, need_amount=True)
    remote = read.loaded.remote
    if remote is not None and resampling is None and basis_of(people, basis) is Basis.activity:
        return with_intervals(remote.churn(params, convention=rules), "churn", ci)
    prep = prepare(_on_driver(read), people, params, basis=basis, anonymous=True)
    table = _resampled(churn_table(prep, resampling, convention=rules), resampling, "churn")
    return with_intervals(table, "churn", ci)


def cohorts(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    mode: str = "on",
    min_cohort: int = 1,
    max_offset: int | None = None,
    brackets: str | None = None,
    bracket_unit: str = "period",
    ci: float | None = None,
    convention: str | None = None,
) -> pl.DataFrame:
    """Cohorts by first purchase (or signup), one row per cohort and offset (SPEC §2.5):
    cohort_size, customers who purchased in the offset (``mode="on"``) or in it or any
    later one (``"on-or-after"``), eligible (members for whom the offset is over by the
    data end), retention = eligible_active / eligible, net revenue and cumulative revenue
    per customer; then the average rows (``cohort`` null) weighted by the eligible.
    ``brackets="0-7,8-30"``: one row per cohort and bracket of offsets instead
    (``bracket_unit="day"``: days since the first purchase or signup).
    ``convention="amplitude"``: offsets in 1-, 7- or 30-day steps from each customer's
    first day (docs/conventions.md)."""
    from retcalc.metrics.choices import parse_brackets
    from retcalc.metrics.cohorts import BRACKET_COLUMNS, COHORT_COLUMNS, Mode, cohort_table
    from retcalc.metrics.conventions import check_period, convention_for

    rules = convention_for(convention, "cohorts")
    check_period(rules, str(period))
    _confidence(ci)
    try:
        chosen = Mode(mode)
    except ValueError:
        raise UsageError(f"--mode {mode!r}: use on or on-or-after") from None
    spans = None if brackets is None else parse_brackets(brackets, bracket_unit)
    if spans is not None and chosen is not Mode.on:
        raise UsageError(
            "--brackets counts a purchase within each bracket; --mode on-or-after does not "
            "apply to it (leave --mode out)"
        )
    if spans is not None and rules.rolling_days:
        raise UsageError(
            f"--brackets with --convention {convention}: give the brackets in days "
            "(--bracket-unit day) instead of the convention's rolling periods"
        )
    if spans is not None and max_offset is not None:
        raise UsageError("--brackets and --max-offset: the brackets choose the offsets, give one")
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=by,
        shows=COHORT_COLUMNS if spans is None else BRACKET_COLUMNS, command="cohorts",
    )  # fmt: skip
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    remote = read.loaded.remote
    if remote is not None and spans is None and basis_of(people, basis) is Basis.activity:
        table = remote.cohorts(
            params, mode=chosen, min_cohort=min_cohort, max_offset=max_offset, convention=rules
        )
        return with_intervals(table, "cohorts", ci)
    prep = prepare(_on_driver(read), people, params, basis=basis, anonymous=True, with_runs=False)
    table = cohort_table(
        prep,
        mode=chosen,
        min_cohort=min_cohort,
        max_offset=max_offset,
        brackets=spans,
        convention=rules,
    )
    return with_intervals(table, "cohorts", ci)


#: compare's metrics: the shares of customers it can test, and the command whose table
#: prints each (its counts are named in retcalc.metrics.intervals.SHARES).
COMPARE_METRICS: dict[str, str] = {
    "retention_rate": "retention",
    "churn_rate": "retention",
    "repeat_rate": "retention",
}
#: Revenue ratios: they need a bootstrap over customers, not a test of two shares.
_REVENUE_RATIOS = ("nrr", "grr", "aov", "value_return_rate")


def _between_day(text: str | dt.date, period: Period) -> dt.date:
    """The first day of the period that ``text`` names: a date, or a label as
    2025-Q3, 2025-07, 2025-W05 is not taken (give a date in the week), 2025."""
    import re

    from retcalc.periods import period_start

    if isinstance(text, dt.date):
        return period_start(text, period)
    label = text.strip()
    quarter = re.fullmatch(r"(\d{4})-?Q([1-4])", label, flags=re.IGNORECASE)
    month = re.fullmatch(r"(\d{4})-(\d{2})", label)
    if quarter:
        day = dt.date(int(quarter[1]), 3 * int(quarter[2]) - 2, 1)
    elif month and 1 <= int(month[2]) <= 12:
        day = dt.date(int(month[1]), int(month[2]), 1)
    elif re.fullmatch(r"\d{4}", label):
        day = dt.date(int(label), 1, 1)
    else:
        parsed = parse_date_option(label, "--between")
        assert parsed is not None
        day = parsed
    return period_start(day, period)


def _between_days(
    between: Sequence[str | dt.date], period: Period, table: pl.DataFrame
) -> tuple[dt.date, dt.date]:
    """The first days of ``--between A B``'s periods, refused unless ``table`` has both."""
    first, second = (_between_day(p, period) for p in between)
    known = table.get_column("period_start").unique().sort()
    for label, day in zip(between, (first, second), strict=True):
        if day not in known:
            shown = ", ".join(str(d) for d in known.to_list())
            raise UsageError(
                f"--between {label}: no {period.value} starting {day} in the table; its "
                f"periods start on {shown}"
            )
    return first, second


def _per_customer(orders: Orders, dim: str) -> bool:
    """Whether every customer's orders carry one value of ``dim`` (a customer attribute)."""
    frame = orders.frame
    most = frame.group_by("customer_id").agg(pl.col(dim).n_unique()).get_column(dim).max()
    return most is None or int(most) <= 1  # type: ignore[arg-type]


def check_compare(
    *,
    metric: str,
    alpha: float,
    by: str | Sequence[str],
    between: Sequence[str | dt.date] | None,
) -> tuple[str, ...]:
    """Refuse :func:`compare`'s options that cannot work, before any data is read;
    the ``by`` columns as a tuple."""
    supported = ", ".join(COMPARE_METRICS)
    if metric not in COMPARE_METRICS and metric not in _REVENUE_RATIOS:
        raise UsageError(
            f"--metric {metric!r}: compare tests one of {supported}, {', '.join(_REVENUE_RATIOS)}"
        )
    if isinstance(alpha, bool) or not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise UsageError(f"--alpha {alpha!r}: give a significance level between 0 and 1, e.g. 0.05")
    keys = _by(by)
    if len(keys) > 1:
        raise UsageError(f"--by {', '.join(keys)}: compare takes one --by column")
    if between is not None and len(between) != 2:
        raise UsageError("--between takes two periods, e.g. --between 2025-Q3 2025-Q4")
    if between is None and not keys:
        raise UsageError("compare needs --by COLUMN (groups against the rest) or --between A B")
    return keys


def compare(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    by: str | Sequence[str] = (),
    metric: str = "retention_rate",
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    basis: Basis | str | None = None,
    alpha: float = 0.05,
    between: Sequence[str | dt.date] | None = None,
    ci_resamples: int = RESAMPLES,
    seed: int = 0,
) -> pl.DataFrame:
    """Significant differences of a share or a revenue ratio (SPEC §9; see docs/compare.md).

    With ``by`` (one column): per period and group g, the group's ``metric`` k_g/n_g
    against the rest of the population's, (k − k_g)/(n − n_g); with ``between=(A,
    B)``: the same population's share in period B against period A (per group with
    ``by``). Columns: the period and group keys, ``metric``, the two counts and shares,
    ``difference`` (group − rest; B − A), its Newcombe hybrid score interval
    ``difference_lo``/``_hi`` at level 1 − ``alpha``, the pooled two-proportion
    ``p_value``, ``p_adjusted`` (Holm over all rows) and ``significant`` (p_adjusted
    < ``alpha``). A revenue ratio (nrr, grr, aov, value_return_rate) is tested by the
    bootstrap over customers instead (``ci_resamples`` resamples, seeded with
    ``seed``): the percentile interval of the resampled differences and a bootstrap
    p-value (:func:`retcalc.metrics.compare.bootstrap_p`); the rest of a group is the
    other groups pooled.

    When ``by`` is a column of the orders on which a customer has several values
    (channel, product_id), a customer is in every group they bought in; the rest of g
    is then the metric on the orders outside g (a warning says so).
    """
    from retcalc.metrics.compare import BETWEEN_COLUMNS, COMPARE_COLUMNS, GROUP_COLUMNS, compared
    from retcalc.metrics.intervals import SHARES
    from retcalc.metrics.retention import RETENTION_COLUMNS

    keys = check_compare(metric=metric, alpha=alpha, by=by, between=between)
    if metric in _REVENUE_RATIOS:
        return _compare_ratio(
            orders, customers=customers, keys=keys, metric=metric, alpha=alpha,
            between=between, how=Resampling(1 - alpha, ci_resamples, seed), basis=basis,
            options={"period": period, "start": start, "end": end, "as_of": as_of},
            window=window,
        )  # fmt: skip
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=keys,
        shows=(*RETENTION_COLUMNS, *COMPARE_COLUMNS), command="compare",
    )  # fmt: skip
    command = COMPARE_METRICS[metric]
    k, n = SHARES[command][metric]
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    options: dict[str, Any] = {
        "customers": people, "period": params.period, "window": params.window,
        "start": params.start, "end": params.end, "as_of": params.as_of, "basis": basis,
    }  # fmt: skip
    grouped = retention(read, by=keys, **options)
    periods = ["period_start", "period_end"]

    if between is not None:
        first, second = _between_days(between, params.period, grouped)
        a = grouped.filter(pl.col("period_start") == first).select(
            *keys, pl.col("period_start").alias("period_a"), pl.col(k).alias("_ka"),
            pl.col(n).alias("a_n"),
        )  # fmt: skip
        b = grouped.filter(pl.col("period_start") == second).select(
            *keys, pl.col("period_start").alias("period_b"), pl.col(k).alias("_kb"),
            pl.col(n).alias("b_n"),
        )  # fmt: skip
        pairs = (
            a.join(b, on=list(keys), how="full", coalesce=True) if keys else a.join(b, how="cross")
        )
        table = compared(pairs, "_kb", "b_n", "_ka", "a_n", alpha=alpha).with_columns(
            pl.lit(metric).alias("metric"),
            pl.when(pl.col("a_n") > 0).then(pl.col("_ka") / pl.col("a_n")).alias("a_rate"),
            pl.when(pl.col("b_n") > 0).then(pl.col("_kb") / pl.col("b_n")).alias("b_rate"),
        )
        return table.sort(list(keys)).select(*keys, "metric", *BETWEEN_COLUMNS, *_test_columns())

    (dim,) = keys
    one_group_each = basis_of(people, basis) is Basis.subscription or _per_customer(read, dim)
    counts = grouped.select(*periods, dim, pl.col(k).alias("_kg"), pl.col(n).alias("group_n"))
    if one_group_each:
        # Each customer is in one group: the rest is the whole population less the group.
        whole = retention(read, **options).select(
            *periods, pl.col(k).alias("_kt"), pl.col(n).alias("_nt")
        )
        rows = counts.join(whole, on=periods, how="left").with_columns(
            (pl.col("_kt") - pl.col("_kg")).alias("_kr"),
            (pl.col("_nt") - pl.col("group_n")).alias("rest_n"),
        )
    else:
        _say(
            [
                f"--by {dim}: some customers have orders in more than one {dim}; each counts "
                f"in every group they bought in, and the rest of a group is {metric} computed "
                f"on the orders of the other groups (it may share customers with the group, "
                "so the two are not independent samples and the p-values are approximate)"
            ]
        )
        grid = {
            "start": params.start or grouped.get_column("period_start").min(),
            "end": params.end or grouped.get_column("period_end").max() - dt.timedelta(days=1),  # type: ignore[operator]
        }
        rests = []
        for value in counts.get_column(dim).unique(maintain_order=True).to_list():
            others = read.frame.filter(~pl.col(dim).eq_missing(pl.lit(value)))
            rest = retention(
                Orders(dataclasses.replace(read.loaded, frame=others)),
                **{**options, **grid},
            )
            rests.append(
                rest.select(
                    *periods, pl.col(k).alias("_kr"), pl.col(n).alias("rest_n")
                ).with_columns(pl.lit(value, dtype=counts.schema[dim]).alias(dim))
            )
        rest_rows = pl.concat(rests) if rests else None
        rows = (
            counts.join(rest_rows, on=[*periods, dim], how="left", nulls_equal=True)
            if rest_rows is not None
            else counts.with_columns(_kr=pl.lit(None, pl.Int64), rest_n=pl.lit(None, pl.Int64))
        ).with_columns(pl.col("_kr").fill_null(0), pl.col("rest_n").fill_null(0))
    table = compared(rows, "_kg", "group_n", "_kr", "rest_n", alpha=alpha).with_columns(
        pl.lit(metric).alias("metric"),
        pl.when(pl.col("group_n") > 0).then(pl.col("_kg") / pl.col("group_n")).alias("group_rate"),
        pl.when(pl.col("rest_n") > 0).then(pl.col("_kr") / pl.col("rest_n")).alias("rest_rate"),
    )
    return table.sort([*periods, dim], nulls_last=True).select(
        *periods, dim, "metric", *GROUP_COLUMNS, *_test_columns()
    )


#: The command whose table holds each revenue ratio compare tests.
_RATIO_COMMANDS = {"nrr": "churn", "grr": "churn", "aov": "kpis", "value_return_rate": "returns"}


def _compare_ratio(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None,
    keys: tuple[str, ...],
    metric: str,
    alpha: float,
    between: Sequence[str | dt.date] | None,
    how: Resampling,
    basis: Basis | str | None,
    options: dict[str, Any],
    window: str | Window,
) -> pl.DataFrame:
    """:func:`compare` of a revenue ratio: its command's table computed by ``keys``
    with the bootstrap's draws kept (:func:`retcalc.metrics.bootstrap.capturing`), each
    row's cell read from its ``<metric>_lo``."""
    from retcalc.metrics.bootstrap import capturing
    from retcalc.metrics.compare import (
        BETWEEN_COLUMNS,
        GROUP_COLUMNS,
        ratio_against_rest,
        ratio_between,
    )

    command = _RATIO_COMMANDS[metric]
    ci: dict[str, Any] = {"ci": how.level, "ci_resamples": how.resamples, "seed": how.seed}
    if command != "churn" and customers is not None:
        raise UsageError(
            f"--metric {metric} is computed from the orders alone: leave out --customers "
            "(a --by column must be a column of the orders)"
        )
    with capturing() as draws:
        if command == "churn":
            table = churn(
                orders, customers=customers, by=keys, basis=basis, window=window, **options, **ci
            )
        elif command == "kpis":
            table = kpis(orders, by=keys, window=window, **options, **ci)
        else:
            table = returns(orders, by=keys, **options, **ci)
    periods = ["period_start", "period_end"]
    cell = pl.col(f"{metric}_lo").cast(pl.Int64).alias("_cell")
    if not draws:  # no customer in any cell: no row has a ratio
        draws_of = None
    else:
        (draws_of,) = draws
    if between is not None:
        period = metric_params(period=options["period"]).period
        first, second = _between_days(between, period, table)
        a = table.filter(pl.col("period_start") == first).select(
            *keys, pl.col("period_start").alias("period_a"), cell.alias("_cell_a")
        )
        b = table.filter(pl.col("period_start") == second).select(
            *keys, pl.col("period_start").alias("period_b"), cell.alias("_cell_b")
        )
        pairs = (
            a.join(b, on=list(keys), how="full", coalesce=True, nulls_equal=True)
            if keys
            else a.join(b, how="cross")
        )
        pairs = pairs.with_columns(pl.lit(metric).alias("metric"))
        if draws_of is None:
            raise UsageError(f"--metric {metric}: no customer has a {metric} in these periods")
        found = ratio_between(pairs, draws_of, metric, alpha=alpha)
        return found.sort(list(keys)).select(*keys, "metric", *BETWEEN_COLUMNS, *_test_columns())
    rows = table.select(*periods, *keys, cell).with_columns(pl.lit(metric).alias("metric"))
    if draws_of is None:
        raise UsageError(f"--metric {metric}: no customer has a {metric} in these periods")
    found = ratio_against_rest(rows, draws_of, metric, period="period_start", alpha=alpha)
    return found.sort([*periods, *keys], nulls_last=True).select(
        *periods, *keys, "metric", *GROUP_COLUMNS, *_test_columns()
    )


def _test_columns() -> tuple[str, ...]:
    from retcalc.metrics.compare import TEST_COLUMNS

    return TEST_COLUMNS


def forecast_fit(
    orders: Orders | Source,
    *,
    horizon: int,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float | None = None,
    resamples: int = 200,
    seed: int = 0,
) -> Forecast:
    """:func:`forecast` with the fitted parameters kept: a
    :class:`~retcalc.metrics.forecast.Forecast` holding ``table``, ``params`` (what
    ``--params-out`` writes: alpha, beta, log-likelihood and n per cohort and pooled)
    and the ``warnings`` said as :class:`RetcalcWarning`."""
    from retcalc.metrics.forecast import FORECAST_COLUMNS, INTERVAL_COLUMNS, forecast_table
    from retcalc.validate import MAX_FORECAST_HORIZON, MAX_RESAMPLES

    if (
        isinstance(horizon, bool)
        or not isinstance(horizon, int)
        or not (1 <= horizon <= MAX_FORECAST_HORIZON)
    ):
        raise UsageError(
            f"--horizon {horizon!r}: give a whole number of periods from 1 to "
            f"{MAX_FORECAST_HORIZON}, e.g. --horizon 12"
        )
    _confidence(ci)
    if ci is not None and not 1 <= resamples <= MAX_RESAMPLES:
        raise UsageError(f"--ci-resamples {resamples!r}: give 1 to {MAX_RESAMPLES}")
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=by,
        shows=(*FORECAST_COLUMNS, *INTERVAL_COLUMNS), command="forecast",
    )  # fmt: skip
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    prep = prepare(read, people, params, basis=basis, anonymous=True)
    result = forecast_table(prep, horizon=horizon, ci=ci, resamples=resamples, seed=seed)
    _say(result.warnings)
    return result


def forecast(
    orders: Orders | Source,
    *,
    horizon: int,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float | None = None,
    resamples: int = 200,
    seed: int = 0,
) -> pl.DataFrame:
    """Retention forecasts (SPEC §9): the shifted-beta-geometric model (Fader & Hardie
    2007) fitted to each cohort's survivors (customers not yet lost: active at every
    period boundary since their cohort's period) and pooled; one row per cohort and
    offset up to the oldest cohort's last observed offset + ``horizon``, and pooled rows
    (``cohort`` null): survivors, retention_rate = survivors / survivors one offset
    before, survival_rate = survivors / cohort_size, observed or not, and the model's
    survivors_forecast, retention_rate_forecast = S(k) / S(k - 1) and
    survival_rate_forecast; with ``ci``, their ``_lo``/``_hi`` from a parametric
    bootstrap of ``resamples`` draws seeded with ``seed``. See docs/forecast.md."""
    return forecast_fit(
        orders, horizon=horizon, customers=customers, period=period, window=window,
        start=start, end=end, as_of=as_of, by=by, basis=basis, ci=ci,
        resamples=resamples, seed=seed,
    ).table  # fmt: skip


def kpis(
    orders: Orders | Source,
    *,
    period: str | Period | None = None,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    loyal_orders: int = 4,
    by_sequence: bool = False,
    nps: pl.LazyFrame | pl.DataFrame | str | Path | None = None,
    paid_col: str | None = None,
    date_format: str | None = None,
    money: bool = True,
    ci: float | None = None,
    ci_resamples: int = RESAMPLES,
    seed: int = 0,
    convention: str | None = None,
) -> pl.DataFrame:
    """Business KPIs (SPEC §2.8) over the range, or per period when ``period`` is given:
    customers, orders, revenue, new and active customers, churn_rate, crr,
    purchase_frequency = orders / customers, aov = revenue / orders,
    revenue_per_customer, repeat_purchase_rate, loyal_customer_rate (at least
    ``loyal_orders`` orders), the days between purchases, and growth of existing
    customers' revenue. ``nps``: survey responses (a path, or a frame of
    ``customer_id, day, score``) add nps, nps_churned, nps_retained; ``paid_col``: the
    orders' column of paid dates (read with ``date_format``) adds dso. ``money=False``:
    the counts only, for orders that may have no amount column (revenue, aov,
    revenue_per_customer and the revenue growth are left out). ``ci``: Wilson bounds
    of the shares and bootstrap bounds of aov (``ci_resamples`` resamples of the
    customers, seeded with ``seed``). ``convention``: a vendor's churn_rate where it
    differs (``"chartmogul"``, ``"baremetrics"``; docs/conventions.md)."""
    from retcalc.io.nps import load_nps, with_paid_dates
    from retcalc.kernels.keys import encode_orders
    from retcalc.metrics.conventions import convention_for
    from retcalc.metrics.kpis import GROWTH, KPI_COLUMNS, NPS_COLUMNS, kpi_table

    rules = convention_for(convention, "kpis")
    revenue_columns = ("revenue", "aov", "revenue_per_customer", GROWTH)

    resampling = _resampling(ci if money else None, ci_resamples, seed, "kpis")
    _confidence(ci)
    params = metric_params(
        period=period or Period.month, window=window, start=start, end=end, as_of=as_of,
        by=by, shows=(*KPI_COLUMNS, *NPS_COLUMNS), command="kpis",
    )  # fmt: skip
    read = _orders(orders, by=by, need_amount=money)
    per_period = period is not None
    remote = read.loaded.remote
    if remote is not None and nps is None and paid_col is None and resampling is None:
        table = remote.kpis(
            params,
            per_period=per_period,
            loyal_orders=loyal_orders,
            by_sequence=by_sequence,
            ci=ci,
            convention=rules,
        )
        return table if money else table.drop(revenue_columns, strict=False)
    read = _on_driver(read)  # NPS, dso and aov's bootstrap need every customer's rows
    style = dates.style_from_flag(date_format) if date_format else None
    lines = read.view()
    if paid_col is not None:
        lines = lines.but(with_paid_dates(read.loaded, paid_col, date_style=style).lazy())
    responses: pl.LazyFrame | None = None
    if isinstance(nps, str | Path):
        loaded = load_nps(str(nps), date_style=style)
        _say(loaded.warnings)
        responses = loaded.frame.lazy()
    elif nps is not None:
        responses = nps.lazy()
    # No customer or order id is shown: integer keys give the same table, faster.
    lines, responses = coded(encode_orders(lines), responses)
    # Over one range, kpi_table finds the runs on the range's own grid.
    prep = prepare_activity(lines, params, with_runs=per_period)
    table = kpi_table(
        prep,
        params=params,
        per_period=per_period,
        loyal_orders=loyal_orders,
        by_sequence=by_sequence,
        nps=responses,
        dso=paid_col is not None,
        ci=ci,
        resampling=resampling,
        convention=rules,
    )
    _resampled(table, resampling, "kpis")
    return table if money else table.drop(revenue_columns, strict=False)


def rfm(
    orders: Orders | Source,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    per_customer: bool = False,
    write_to: str | Path | None = None,
) -> pl.DataFrame:
    """RFM (SPEC §2.9): per customer, recency_days (to ``as_of``, default the day after
    the last purchase), frequency (purchase days), monetary (net revenue), their
    quintile scores 1-5 and the segment; or, without ``per_customer``, per segment:
    customers, share, revenue and the mean recency, frequency and monetary.
    ``write_to``: with ``per_customer`` on orders left on Spark, the executors write the
    rows as a Parquet directory there; the table returned then holds ``path`` and
    ``customers`` (written)."""
    from retcalc.metrics.rfm import CUSTOMER_COLUMNS, SUMMARY_COLUMNS, rfm_scores, rfm_segments

    shown = CUSTOMER_COLUMNS if per_customer else SUMMARY_COLUMNS
    params = metric_params(start=start, end=end, as_of=as_of, by=by, shows=shown, command="rfm")
    read = _orders(orders, by=by, need_amount=True)
    remote = read.loaded.remote
    if write_to is not None:
        from retcalc.engines.spark import rfm_remote

        return _write_on_executors(rfm_remote.write_scores, remote, params, per_customer, write_to)
    if remote is not None and not per_customer:
        return remote.rfm(params)
    scores = rfm_scores(_on_driver(read).rows(), params=params, micros=not per_customer)
    return scores if per_customer else rfm_segments(scores, params.by)


def returns(
    orders: Orders | Source,
    *,
    returns: pl.LazyFrame | pl.DataFrame | str | Path | None = None,
    period: str | Period = Period.month,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    by_return_date: bool = False,
    top: int | None = None,
    min_units: float = 20,
    ci: float | None = None,
    ci_resamples: int = RESAMPLES,
    seed: int = 0,
) -> pl.DataFrame:
    """Returns per period (SPEC §2.7): orders, units sold, gross sales, orders and units
    returned, refunded, unit_return_rate = units_returned / units_sold,
    value_return_rate = refunded / gross_sales, order_return_rate = orders_returned /
    orders. A return counts in the period of its order (``by_return_date``: of the
    return). ``returns``: a separate returns file (a path) or frame. ``top``: the
    ``top`` products (``by="product_id"``) or customers by unit_return_rate, among
    those with at least ``min_units`` units sold. ``ci``: Wilson bounds of
    order_return_rate and bootstrap bounds of value_return_rate (``ci_resamples``
    resamples of the customers, seeded with ``seed``)."""
    from retcalc.io.returns_file import load_returns
    from retcalc.metrics.returns import TOP_KEYS, returns_table, top_returns

    if any(d.first for d in parse_by(by)):
        raise UsageError(
            "returns splits orders and units by what they are: use --by DIM, not first:DIM"
        )
    keys = _by(by)
    if top is not None and not keys:
        keys = ("product_id",)
    if top is not None and (len(keys) != 1 or keys[0] not in TOP_KEYS):
        raise UsageError(f"--top ranks --by product_id or --by customer_id, not --by {keys}")
    resampling = _resampling(ci if top is None else None, ci_resamples, seed, "returns")
    _confidence(ci)
    params = metric_params(period=period, start=start, end=end, as_of=as_of, by=keys)
    read = _orders(orders, by=[k for k in params.by if k != "customer_id"], need_amount=True)
    given: pl.LazyFrame | None = None
    if isinstance(returns, str | Path):
        loaded = load_returns(str(returns), dimensions=params.by)
        _say(loaded.warnings)
        given = loaded.frame.lazy()
    elif returns is not None:
        given = returns.lazy()
    remote = read.loaded.remote
    if remote is not None and given is None and resampling is None and top is None:
        result = remote.returns(params, by_return_date=by_return_date)
        _say(result.warnings)
        return with_intervals(result.table, "returns", ci)
    read = _on_driver(read)  # a returns file, --ci and --top need rows across orders
    if top is None:
        result = returns_table(
            read.view(),
            params=params,
            returns=given,
            by_return_date=by_return_date,
            resampling=resampling,
        )
    else:
        result = top_returns(
            read.view(),
            params=params,
            n=top,
            min_units=min_units,
            returns=given,
            by_return_date=by_return_date,
        )
    _say(result.warnings)
    return with_intervals(_resampled(result.table, resampling, "returns"), "returns", ci)


def customers(
    orders: Orders | Source,
    *,
    period_start: str | dt.date,
    customers: Customers | Source | None = None,
    period: str | Period = Period.month,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    status: str | Sequence[str] = (),
    with_clv: bool = False,
    margin: float = 1.0,
    discount_rate: float = 0.1,
    horizon: str | Window = "1y",
) -> pl.DataFrame:
    """The customers behind the retention table (SPEC §10): one row per customer (per
    ``by`` group) with their status in the period containing ``period_start``, under
    :func:`retention`'s definitions: new, retained, churned, reactivated, lapsed or
    not_yet_acquired, and the flags active_at_start, active_at_end, is_returning and
    is_new_lost (see :mod:`retcalc.metrics.customers`); counting them gives
    :func:`retention`'s counts for that period. Then first_order, last_order, orders and
    revenue up to the period end (or ``as_of``, when earlier), as
    :func:`clv_historical` counts them. ``status``: keep the customers with any of these
    statuses (``returning`` and ``new_lost`` select the flags). ``with_clv``: p_alive,
    expected_purchases and clv from :func:`clv_bgnbd_fit` (``margin``, ``discount_rate``,
    ``horizon``) fitted on the history up to the period end (to ``as_of`` or the data end
    when the period ends after it).

    >>> import polars as pl, retcalc
    >>> orders = pl.DataFrame({
    ...     "customer_id": ["a", "b", "a", "c"],
    ...     "order_date": ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10"],
    ...     "amount": [10.0, 20.0, 15.0, 5.0],
    ... })
    >>> retcalc.customers(orders, period_start="2024-02-01", window="1mo").select(
    ...     "customer_id", "status", "is_returning", "orders"
    ... ).rows()
    [('a', 'retained', True, 2), ('b', 'churned', False, 1), ('c', 'new', False, 1)]
    """
    from retcalc.metrics.clv import historical
    from retcalc.metrics.customers import (
        CLV_COLUMNS,
        CUSTOMER_COLUMNS,
        HISTORY_COLUMNS,
        check_statuses,
        keep_statuses,
        period_of,
        status_table,
    )

    wanted = check_statuses((status,) if isinstance(status, str) else status)
    day = _date(period_start, "--period-start")
    if day is None:
        raise UsageError("--period-start: give the first day of the period (YYYY-MM-DD)")
    params = metric_params(
        period=period, window=window, start=start, end=end, as_of=as_of, by=by,
        shows=(*CUSTOMER_COLUMNS, *CLV_COLUMNS, "customer_id"), command="customers",
    )  # fmt: skip
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    prep = prepare(read, people, params, basis=basis)
    k = period_of(prep, day)
    keys = list(params.by)
    group = [*keys, "customer_id"]
    # Everyone the inputs name (before --as-of), acquired or not.
    known = [prep.events.select(group)] if prep.events is not None else []
    if people is not None:
        known.append(people.lazy().select(group))
    table = status_table(prep, k, pl.concat(known, how="vertical_relaxed")).collect()
    period_end = prep.grid.bounds[k + 1]
    cut = period_end if params.as_of is None else min(period_end, params.as_of)
    lines = read.view()
    first_purchase = (
        prep.purchases.select(pl.col("day").min()).collect().item()
        if prep.purchases is not None
        else None
    )
    if first_purchase is not None and first_purchase < cut:
        history = historical.per_customer(lines, keys=keys, as_of=cut).select(
            *group, *HISTORY_COLUMNS
        )
    else:
        history = pl.DataFrame(schema={c: table.schema[c] for c in group}).with_columns(
            pl.lit(None, dtype=pl.Date).alias("first_order"),
            pl.lit(None, dtype=pl.Date).alias("last_order"),
            pl.lit(None, dtype=pl.Int64).alias("orders"),
            pl.lit(None, dtype=pl.Float64).alias("revenue"),
        )
    table = table.join(history, on=group, how="left", nulls_equal=True).with_columns(
        pl.col("orders").fill_null(0), pl.col("revenue").fill_null(0.0)
    )
    if read.level is Level.lines and "amount" not in read.frame.columns:
        table = table.with_columns(pl.lit(None, dtype=pl.Float64).alias("revenue"))
    columns = [*group, *CUSTOMER_COLUMNS]
    if with_clv:
        fit_cut = period_end if period_end < prep.data_end else params.as_of
        fit = clv_bgnbd_fit(
            read, as_of=fit_cut, by=by, margin=margin, discount_rate=discount_rate,
            horizon=horizon,
        )  # fmt: skip
        scores = fit.customers.select(*group, *CLV_COLUMNS)
        table = table.join(scores, on=group, how="left", nulls_equal=True)
        columns += CLV_COLUMNS
    return keep_statuses(table.select(columns).sort(group), wanted)


def clv_historical(
    orders: Orders | Source,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    per_customer: bool = False,
    write_to: str | Path | None = None,
) -> pl.DataFrame:
    """Historical customer value (SPEC §2.6): per customer, orders, revenue, aov =
    revenue / orders, first and last order and tenure; without ``per_customer``, per
    group: customers, orders, revenue, aov, orders_per_customer,
    revenue_per_customer and mean_tenure_days. ``write_to``: with ``per_customer`` on
    orders left on Spark (``--engine spark``), the executors write the per-customer
    table there as a Parquet directory instead (SPEC §8); the frame returned is then
    ``path`` and ``customers`` (written)."""
    from retcalc.metrics.clv import historical

    params = metric_params(start=start, end=end, as_of=as_of, by=by)
    read = _orders(orders, by=by, need_amount=True)
    remote = read.loaded.remote
    if write_to is not None:
        from retcalc.engines.spark import clv_remote

        return _write_on_executors(
            clv_remote.write_historical, remote, params, per_customer, write_to
        )
    if remote is not None and not per_customer:
        from retcalc.engines.spark import clv_remote

        return clv_remote.historical(remote, params)
    read = _on_driver(read)
    # Handed straight over (no name kept here), so that the metric lets the rows go once
    # it has read them.
    compute = historical.per_customer if per_customer else historical.table
    return compute(
        read.rows(), keys=params.by, start=params.start, end=params.end, as_of=params.as_of
    )


def clv_formula(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    margin: float = 1.0,
    discount_rate: float = 0.1,
) -> pl.DataFrame:
    """CLV by formula (SPEC §2.6) per group over complete years: aov × purchases a year
    × ``margin`` × lifetime, lifetime = 1 / the yearly churn rate, discounted at
    ``discount_rate``; net of ``cost_to_serve`` when the customers have it."""
    from retcalc.metrics import clv as model
    from retcalc.metrics.clv import formula

    params = metric_params(
        period=Period.year, window=window, start=start, end=end, as_of=as_of, by=by
    )
    read, people = _read_with(orders, customers, by=by, need_amount=True)
    costs = None
    if people is not None and "cost_to_serve" in people.frame.columns:
        costs = model.customer_costs(people.lazy())
    prep = prepare(_on_driver(read), people, params, basis=basis, anonymous=costs is None)
    return formula.formula_table(prep, margin=margin, discount_rate=discount_rate, costs=costs)


def _written_by_executors(remote: Any, per_customer: bool) -> None:
    """Refuse ``write_to=`` unless ``remote`` rows are there for the executors to write
    per-customer rows from."""
    if remote is None or not per_customer:
        raise UsageError(
            "write_to is for per_customer on orders left on Spark (--engine spark, orders "
            "only): the executors write the rows; otherwise write the table returned"
        )


def _write_on_executors(
    write: Any, remote: Any, params: Params, per_customer: bool, write_to: str | Path
) -> pl.DataFrame:
    """``write`` (an executors' writer of per-customer rows) run to ``write_to``, after
    :func:`_written_by_executors`' check; the frame ``path``, ``customers`` (written)."""
    _written_by_executors(remote, per_customer)
    written = write(remote, params, Path(write_to))
    return pl.DataFrame({"path": [str(write_to)], "customers": [written]})


@dataclass
class BgNbdFit:
    """What :func:`clv_bgnbd_fit` returns: the models and every customer's score.

    ``params``: the fitted (or given) BG/NBD and Gamma-Gamma parameters
    (``params.to_dict()`` is what ``--params-out`` writes); ``observation_end``: the
    last day observed; ``horizon_days``: the horizon in days; ``by``: the grouping.
    ``customers`` and ``groups`` are the tables :func:`clv_bgnbd` returns with and
    without ``per_customer``. Fitted with ``per_customer=False`` on orders left on Spark
    (``--engine spark``), only ``groups`` is there (``table``, computed on the executors).
    """

    params: ModelParams
    observation_end: dt.date
    horizon_days: float
    by: tuple[str, ...]
    scored: pl.DataFrame | None = dataclasses.field(repr=False)
    has_cost: bool = False
    table: pl.DataFrame | None = dataclasses.field(default=None, repr=False)
    written: int | None = None  # customers the executors wrote (write_to=)

    @property
    def customers(self) -> pl.DataFrame:
        """One row per customer, sorted by the ``by`` columns and ``customer_id``."""
        return self._scored().sort([*self.by, "customer_id"])

    @property
    def groups(self) -> pl.DataFrame:
        """One row per ``by`` group (one row without ``by``)."""
        return self.by_group() if self.table is None else self.table

    def _scored(self) -> pl.DataFrame:
        if self.scored is None:
            raise UsageError(
                "the customers' scores stayed on the Spark executors (per_customer=False, "
                "or write_to=): fit with per_customer=True for them"
            )
        return self.scored

    def by_group(
        self, by: str | Sequence[str] | None = None, *, customers: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """The per-group table over other columns: ``customers`` is :attr:`customers`
        (default) with columns joined to it, ``by`` the columns to group by (default the
        fit's ``by``). Sums and means as in :func:`clv_bgnbd`."""
        from retcalc.metrics import clv as model

        keys = self.by if by is None else _by(by)
        frame = self._scored() if customers is None else customers
        years = self.horizon_days / model.DAYS_PER_YEAR if self.has_cost else None
        return model.by_group(frame, keys, years=years)


def _bgnbd_setup(horizon: str | Window, time_unit: str) -> tuple[Window, TimeUnit]:
    from retcalc.metrics.clv.summary import TimeUnit
    from retcalc.periods import parse_duration
    from retcalc.validate import MAX_HORIZON_YEARS

    length = (
        horizon
        if isinstance(horizon, Window)
        else parse_duration(horizon, "--horizon", max_years=MAX_HORIZON_YEARS)
    )
    try:
        unit = TimeUnit(time_unit)
    except ValueError:
        raise UsageError(f"--time-unit {time_unit!r}: use day or week") from None
    return length, unit


def _penalizer(value: float, params: ModelParams | None, flag: str = "--penalizer") -> float:
    """``--penalizer`` (``--spend-penalizer``): a number ≥ 0, and only for a fit."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UsageError(f"{flag} {value!r}: give a number ≥ 0, e.g. 0.001")
    if value == float("inf"):
        raise UsageError(f"{flag} inf: give a finite number, e.g. 0.001")
    if value and params is not None:
        raise UsageError(f"{flag} is for fitting: drop it with --params-in (params=)")
    return float(value)


def clv_bgnbd_fit(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    margin: float = 1.0,
    discount_rate: float = 0.1,
    horizon: str | Window = "1y",
    time_unit: str = "day",
    params: ModelParams | None = None,
    penalizer: float = 0.0,
    spend_penalizer: float = 0.0,
    per_customer: bool = True,
    write_to: str | Path | None = None,
) -> BgNbdFit:
    """:func:`clv_bgnbd` with the models kept: a :class:`BgNbdFit` holding the fitted
    parameters (to save with ``params.to_dict()``, as ``--params-out``), the per-customer
    and per-group tables (``per_customer=False``: the per-group table only, which on
    orders left on Spark is fitted and scored on the executors, SPEC §8). ``write_to``:
    on orders left on Spark, the executors write the per-customer table there as a
    Parquet directory (``written`` says how many customers) instead of keeping it. ``params``: score with these parameters instead of fitting
    (``ModelParams.from_dict`` reads what ``to_dict`` wrote; ``--params-in``); they need
    the Gamma-Gamma part. ``penalizer`` and ``spend_penalizer``: lifetimes'
    ``penalizer_coef`` of the BG/NBD and the Gamma-Gamma fit (``--penalizer``,
    ``--spend-penalizer``; 0 = plain maximum likelihood). A fit whose maximum is at the
    boundary of the parameter space gives its limit model, said as a
    :class:`RetcalcWarning` (docs/commands.md, "Fits at the boundary").

    >>> import polars as pl, retcalc
    >>> orders = pl.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b", "b", "c"],
    ...     "order_date": ["2024-01-02", "2024-03-01", "2024-01-10", "2024-02-01",
    ...                    "2024-04-01", "2024-02-15"],
    ...     "amount": [10.0, 20.0, 5.0, 15.0, 10.0, 30.0],
    ... })
    >>> params = retcalc.ModelParams.from_dict({
    ...     "bgnbd": {"r": 0.2, "alpha": 30.0, "a": 0.5, "b": 1.7},
    ...     "gamma_gamma": {"p": 1.0, "q": 2.4, "v": 160.0},
    ... })
    >>> fit = retcalc.clv_bgnbd_fit(orders, as_of="2024-05-01", params=params)
    >>> fit.observation_end, fit.customers["customer_id"].to_list()
    (datetime.date(2024, 4, 30), ['a', 'b', 'c'])
    >>> fit.groups.select("customers", "repeat_customers").row(0)
    (3, 2)
    >>> fit.params.to_dict()["bgnbd"]["r"]
    0.2
    """
    from retcalc.metrics import clv as model
    from retcalc.metrics.clv.summary import rfm_summary

    metric = metric_params(as_of=as_of, by=by)
    length, unit = _bgnbd_setup(horizon, time_unit)
    if params is not None and params.gamma_gamma is None:
        raise UsageError(
            "params: no Gamma-Gamma part (p, q, v) to predict the spend with; fit both "
            "models, or give parameters written by a fit with the spend model"
        )
    coef = _penalizer(penalizer, params)
    spend_coef = _penalizer(spend_penalizer, params, "--spend-penalizer")
    read = _orders(orders, by=by, need_amount=True)
    days = model.duration_days(length)
    people = _customers(customers)
    has_cost = people is not None and "cost_to_serve" in people.frame.columns
    remote = read.loaded.remote
    on_executors = remote is not None and not per_customer and not has_cost
    if write_to is not None:
        _written_by_executors(None if has_cost else remote, True)
    if on_executors or write_to is not None:
        from retcalc.engines.spark import clv_remote

        scoring: dict[str, Any] = dict(
            keys=metric.by, as_of=metric.as_of, time_unit=unit, horizon=days / unit.days,
            margin=margin, discount_per_month=model.monthly_rate(discount_rate),
        )  # fmt: skip
        fitted, end, table = clv_remote.bgnbd(
            remote, params, penalizer=coef, spend_penalizer=spend_coef,
            groups=write_to is None, **scoring,
        )  # fmt: skip
        _say(fitted.warnings)
        written = None
        if write_to is not None:
            written = clv_remote.write_bgnbd(remote, fitted, Path(write_to), **scoring)
        return BgNbdFit(fitted, end, days, metric.by, None, table=table, written=written)
    read = _on_driver(read)
    summary = rfm_summary(read.rows(), as_of=metric.as_of, time_unit=unit, keys=metric.by)
    fitted = (
        model.fit_models(summary, penalizer=coef, spend_penalizer=spend_coef)
        if params is None
        else params
    )
    _say(fitted.warnings)
    scored = model.score(
        summary,
        fitted,
        horizon=days / unit.days,
        margin=margin,
        discount_per_month=model.monthly_rate(discount_rate),
    )
    if has_cost:
        assert people is not None
        years = days / model.DAYS_PER_YEAR
        scored = model.net_of_cost(scored, model.customer_costs(people.lazy()), years=years)
        missing = scored.filter(pl.col("cost_to_serve").is_null()).height
        if missing:
            _say(
                [
                    f"{missing} customers have no cost_to_serve in {people.name}: "
                    "their clv_net is empty"
                ]
            )
    return BgNbdFit(fitted, summary.observation_end, days, metric.by, scored, has_cost)


def clv_bgnbd(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    per_customer: bool = False,
    margin: float = 1.0,
    discount_rate: float = 0.1,
    horizon: str | Window = "1y",
    time_unit: str = "day",
    params: ModelParams | None = None,
    penalizer: float = 0.0,
    spend_penalizer: float = 0.0,
) -> pl.DataFrame:
    """Predictive CLV (SPEC §2.6, §9): BG/NBD for the purchases and Gamma-Gamma for
    their value, fitted on every customer's whole history to ``as_of``; per customer
    (``per_customer``) or per group: expected purchases, p_alive and clv over
    ``horizon`` × ``margin``, discounted month by month at ``discount_rate`` a year;
    net of ``cost_to_serve`` when the customers have it. ``params``: score with these
    parameters instead of fitting (:func:`clv_bgnbd_fit` returns the fitted ones);
    ``penalizer``, ``spend_penalizer``: lifetimes' ``penalizer_coef`` of the two fits."""
    fit = clv_bgnbd_fit(
        orders, customers=customers, as_of=as_of, by=by, margin=margin,
        discount_rate=discount_rate, horizon=horizon, time_unit=time_unit, params=params,
        penalizer=penalizer, spend_penalizer=spend_penalizer, per_customer=per_customer,
    )  # fmt: skip
    return fit.customers if per_customer else fit.groups


def clv_holdout(
    orders: Orders | Source,
    *,
    holdout: str | Window,
    as_of: str | dt.date | None = None,
    time_unit: str = "day",
    params: ModelParams | None = None,
    penalizer: float = 0.0,
) -> Holdout:
    """The calibration/holdout check of BG/NBD (``clv --model bgnbd --holdout``): the
    model is fitted on all but the last ``holdout`` (``"26w"``, ``"6mo"``) before
    ``as_of`` (default the day after the last purchase), or given as ``params``, and
    its predicted repeat purchase days in the holdout are compared with the actual
    ones, per calibration frequency (0 to 6, 7+) and in total. Returns a
    :class:`~retcalc.metrics.clv.holdout.Holdout`: ``table``, the ``params`` used,
    ``calibration_end`` and ``end`` (exclusive). ``penalizer`` as in :func:`clv_bgnbd_fit`
    (the spend model is not fitted)."""
    from retcalc.metrics.clv.holdout import holdout_table
    from retcalc.periods import parse_duration

    metric = metric_params(as_of=as_of)
    length = holdout if isinstance(holdout, Window) else parse_duration(holdout, "--holdout")
    _, unit = _bgnbd_setup("1y", time_unit)
    coef = _penalizer(penalizer, params)
    read = _on_driver(_orders(orders, by=(), need_amount=True))
    check = holdout_table(
        read.rows(),
        holdout=length,
        as_of=metric.as_of,
        time_unit=unit,
        params=params,
        penalizer=coef,
    )
    _say(check.params.warnings)
    return check


def calc(formula: str, /, **numbers: float) -> pl.DataFrame:
    """A formula of the hand calculator (``retcalc calc``) on numbers you already have,
    as one row: ``formula`` is churn, nrr, clv, nps, repeat-rate or return-rate, and
    ``numbers`` its options' values by name (``start_revenue=`` for
    ``--start-revenue``). Columns and formulas: :mod:`retcalc.metrics.calc`.

    >>> import retcalc
    >>> retcalc.calc("churn", start=200, lost=14)["churn_rate"].item()
    0.07
    """
    from retcalc.metrics.calc import FORMULAS

    chosen = FORMULAS.get(formula)
    if chosen is None:
        raise UsageError(f"calc {formula!r}: use one of {', '.join(FORMULAS)}")
    try:
        row = chosen.compute(**numbers)
    except TypeError as exc:  # a missing or unknown number
        raise UsageError(f"calc {formula}: {exc}") from None
    return pl.DataFrame([row])


@dataclass
class SurvivalFit:
    """What :func:`survival_fit` returns.

    ``table``: the Kaplan-Meier curve (what :func:`survival` returns); ``summary``: one
    row per group with the median lifetime and the log-rank test (``summary=True``);
    ``lifetimes``: one row per lifetime followed (``by`` keys, ``customer_id``,
    ``origin``, ``lapse``, ``entry``, ``days``, ``event``, ``counted``); ``logrank``:
    the test (None without two groups); ``start`` and ``end``: the days observed,
    ``[start, end)``; ``basis``, ``by`` and ``level`` as used.
    """

    table: pl.DataFrame
    summary: pl.DataFrame
    lifetimes: pl.DataFrame = dataclasses.field(repr=False)
    logrank: LogRank | None
    basis: Basis
    start: dt.date
    end: dt.date
    by: tuple[str, ...]
    level: float

    @property
    def truncated(self) -> int:
        """Lifetimes counted from ``start`` on, having begun before it (left truncation)."""
        return self.lifetimes.filter(pl.col("counted") & (pl.col("entry") > 0)).height

    @property
    def left_out(self) -> int:
        """Lifetimes that began and ended before ``start``."""
        return self.lifetimes.filter(~pl.col("counted")).height


def survival_fit(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float = 0.95,
) -> SurvivalFit:
    """:func:`survival` with everything it found: a :class:`SurvivalFit` (the curve, the
    summary per group, the lifetimes and the log-rank test).

    >>> import polars as pl, retcalc
    >>> orders = pl.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "order_date": ["2024-01-01", "2024-01-01", "2024-01-01"]})
    >>> people = pl.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "signup_date": ["2024-01-01", "2024-01-01", "2024-01-01"],
    ...     "churn_date": ["2024-01-11", "2024-01-21", None]})
    >>> fit = retcalc.survival_fit(orders, customers=people, as_of="2024-02-01")
    >>> fit.table.select("days", "at_risk", "events", "censored", "survival").rows()
    [(10, 3, 1, 0, 0.6666666666666666), (20, 2, 1, 0, 0.3333333333333333), (31, 1, 0, 1, 0.3333333333333333)]
    >>> fit.summary.select("customers", "events", "median_days").row(0)
    (3, 2, 20)
    """
    from retcalc.metrics import survival as km
    from retcalc.metrics.common import check_keys
    from retcalc.metrics.events import events_of, purchase_days

    level = km.check_level(ci)
    params = metric_params(
        window=window, start=start, end=end, as_of=as_of, by=by,
        shows=(*km.SURVIVAL_COLUMNS, *km.SUMMARY_COLUMNS), command="survival",
    )  # fmt: skip
    check_keys(params.by)
    read, people = _read_with(orders, customers, by=by, need_amount=False)
    chosen = basis_of(people, basis)
    cut = km.cut_day(params.end, params.as_of)
    rows = read.rows()
    events = events_of(rows, cut)
    if chosen is Basis.subscription:
        assert people is not None
        purchases = events.filter(pl.col("is_purchase")).select("day")
        lifetimes, seen = km.follow_subscriptions(
            people.lazy(), purchases, params.by, start=params.start, cut=cut, name=people.name
        )
    else:
        purchases = purchase_days(events, params.by, keyed=rows.keyed)
        lifetimes, seen = km.follow_activity(
            purchases, params.by, params.window, start=params.start, cut=cut
        )
    table = km.kaplan_meier(lifetimes, params.by, level=level)
    test = km.logrank(lifetimes, params.by)
    groups = km.summary(lifetimes, table, params.by, test)
    lifetimes = lifetimes.sort([*params.by, "customer_id", "origin"], nulls_last=True)
    return SurvivalFit(
        table, groups, lifetimes, test, chosen, seen.start, seen.end, params.by, level
    )


def survival(
    orders: Orders | Source,
    *,
    customers: Customers | Source | None = None,
    window: str | Window = "12mo",
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    as_of: str | dt.date | None = None,
    by: str | Sequence[str] = (),
    basis: Basis | str | None = None,
    ci: float = 0.95,
    summary: bool = False,
) -> pl.DataFrame:
    """Kaplan-Meier survival of customers (SPEC §9), per ``by`` group: one row per day
    on which a lifetime ends, with at_risk, events, censored, survival and its
    log-log (exponential Greenwood) interval at level ``ci``.

    A lifetime runs from signup to churn (subscription basis: ``customers`` with
    signup dates) or from the first purchase to the first lapse, the last day on
    which the customer is still active under ``window`` (activity basis). Lifetimes
    still running at ``as_of`` (else the data's end) are censored there; those begun
    before ``start`` (else the first purchase day) count from it on (left
    truncation). ``summary=True``: one row per group instead, with customers,
    events, censored, the median lifetime (median_days, median_lo, median_hi) and
    the log-rank test between the groups (logrank_chi2, logrank_df, logrank_p).
    """
    fit = survival_fit(
        orders, customers=customers, window=window, start=start, end=end, as_of=as_of,
        by=by, basis=basis, ci=ci,
    )  # fmt: skip
    return fit.summary if summary else fit.table


def crr(*, start: int, new: int, end: int) -> pl.DataFrame:
    """The classic customer retention rate on three counts (SPEC §2.1):
    crr = (end - new) / start, with customers_start, new_customers, customers_end.

    >>> import retcalc
    >>> retcalc.crr(start=200, new=40, end=180)["crr"].item()
    0.7
    """
    from retcalc.metrics.crr import classic_crr

    return pl.DataFrame(
        {
            "customers_start": [start],
            "new_customers": [new],
            "customers_end": [end],
            "crr": [classic_crr(start=start, new=new, end=end)],
        }
    )


def diff(
    old: str,
    new: str,
    *,
    old_manifest: str | None = None,
    new_manifest: str | None = None,
    orders: tuple[str, str] | None = None,
    effects: bool = False,
) -> DiffResult:
    """What changed between two runs (``retcalc diff``): two JSON reports, or two command
    outputs each with its manifest (``--manifest``; by default ``OUTPUT.manifest.json``).

    ``.cells``: the changed cells (the rows' keys, ``column``, ``old``, ``new``, ``delta``,
    ``restated``; with ``orders=(OLD_INPUT, NEW_INPUT)`` the orders added, removed and
    changed behind each restated cell); with ``effects=True`` the rate and mix effects of
    a ``--by`` output instead. ``.changes``: the parameters, definitions and inputs that
    differ, one sentence each; ``.restated``: how many cells were restated.
    See :mod:`retcalc.changes` for the rules.
    """
    from retcalc.changes import diff as run_diff

    return run_diff(
        old,
        new,
        old_manifest=old_manifest,
        new_manifest=new_manifest,
        orders=orders,
        effects=effects,
    )


def run_manifest(
    orders: Orders,
    *,
    command: str,
    parameters: dict[str, Any] | None = None,
    customers: Customers | None = None,
) -> dict[str, Any]:
    """The manifest (SPEC §10) of a run over ``orders`` (and ``customers``) read by
    :func:`read_orders`: what ``--manifest`` writes. ``parameters``: the run's options."""
    from retcalc import manifest as mf

    inputs = [("orders", orders.loaded)]
    if customers is not None:
        inputs.append(("customers", customers.loaded))
    return mf.build(command=command, parameters=dict(parameters or {}), inputs=inputs)
