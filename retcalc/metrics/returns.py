"""Return rates per period (SPEC §2.6), and the products or customers that return the most.

- ``unit_return_rate`` = units_returned / units_sold
- ``value_return_rate`` = refunded / gross_sales
- ``order_return_rate`` = orders_returned / orders

**Sales.** A sale row is an order row that is not a return line (quantity and
amount not negative) and not pending, failed or cancelled (its meaning, see
``retcalc.meanings``). A row marked returned/refunded by its status *was* sold, so
it counts in the sales (and in the returns). ``units_sold`` sums the rows' quantities (a row
without a quantity is one unit), ``gross_sales`` their amounts, ``orders`` the
distinct ``order_id`` (else rows). An order and all its sale rows count in the
period of its first day.

**Returns**, from whichever sources the data has:

1. a ``--returns`` file: ``|quantity|`` units, ``|amount|`` refunded per row;
2. negative lines (quantity or amount below 0): ``|quantity|`` units,
   ``|amount|`` refunded;
3. row marks on sale rows: ``returned_quantity`` / ``refund_amount`` columns
   return what they say; a returned/refunded status returns the row's units
   whole (the larger of that and ``returned_quantity``) and its money as its
   ``refund_amount`` says (as revenue nets it), the whole amount without one.

Sources are combined per order without double counting: the first source in
the list above that has a return for an order is that order's record of its
returns, and the later sources are ignored for that order.

**Cancelled orders** are left out of sales and returns entirely: cancelled rows
are not sales, and return lines or returns-file rows of an order whose every
sale row is cancelled are dropped (and counted in a warning).

**Attribution.** A return matched to a sale order (same ``order_id``; for a
returns file without order ids, the customer's latest order on or before the
return date, of several that day the first by order id, a row without one
first) counts in the period of that order's first day, or on its own date with
``by_return_date``. Row marks carry no date of their own: they count
on their row's date either way. A return that matches no sale order (an
``order_id`` not among the sales, e.g. UCI ``C...`` invoices or orders placed
before the data starts) counts on its own date and in the units and money, but
not in ``orders_returned``.

Money is summed in integer micros (``money.MICROS``).

**Kernel and merge** (SPEC §8): :func:`returns_counts` runs on the lines of a set of
whole orders and gives additive sums per group and period (:data:`CELL_SUMS`) and of
the whole (:data:`TOTAL_SUMS`, the last return's day); :func:`finish_returns` makes the
table and the warnings of their sums. The grid comes from the first and last sale day
(:func:`span_of`, a first pass). :func:`returns_table` is the kernel on one part
holding every order; ``--engine spark`` runs it on each partition of orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from retcalc.engines import Level, Rows, as_rows
from retcalc.errors import InputError, UsageError
from retcalc.kernels.keys import TOP_BIT, tagged_keys
from retcalc.kernels.parts import grouped_in_parts, parts_for
from retcalc.meanings import NO_SALE, REFUNDED
from retcalc.metrics.activity import CUSTOMER, IDX, Grid
from retcalc.metrics.bootstrap import Resampling, ratio_bounds
from retcalc.metrics.common import Params, grid_range, ratio
from retcalc.metrics.money import MICROS, money, to_micros
from retcalc.periods import Window, observed_end

RETURNS_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    "orders",
    "orders_returned",
    "units_sold",
    "units_returned",
    "gross_sales",
    "refunded",
    "unit_return_rate",
    "value_return_rate",
    "order_return_rate",
    "complete",
)

TOP_COLUMNS: tuple[str, ...] = (
    "units_sold",
    "units_returned",
    "unit_return_rate",
    "gross_sales",
    "refunded",
    "value_return_rate",
    "orders",
    "orders_returned",
    "order_return_rate",
)

RATE_COLUMNS: tuple[str, ...] = ("unit_return_rate", "value_return_rate", "order_return_rate")


#: Dimensions ``--top`` can rank.
TOP_KEYS: tuple[str, ...] = ("product_id", "customer_id")

ORDER = "_order"  # internal order key: order_id, else one key per row
_SOURCES = ("file", "line", "row")  # precedence of the return sources, first wins

NO_RETURNS_INFO = (
    "the orders carry no returns information, so every return rate would read 0: retcalc "
    "needs negative-quantity return lines, a status column with returned/refunded values, "
    "returned_quantity or refund_amount columns (--refund-col), or a separate --returns FILE "
    "with order_id (or customer_id), return_date, quantity and amount"
)


@dataclass(frozen=True)
class Lines:
    """Sales and returns, one row each, with the day they count on.

    ``sales``: keys..., ``_order``, ``day`` (the order's first day), ``units``, ``micros``,
    ``_whole`` (every line's units whole): a row per keys and order (without keys, per
    order), the sums of its sale lines.
    ``returns``: keys..., ``_order``, ``matched``, ``day`` (attributed), ``units``, ``micros``,
    ``_lines`` (how many lines or returns-file rows) and ``_whole`` (every one's units whole).
    """

    sales: pl.DataFrame
    returns: pl.DataFrame
    first_sale: dt.date
    last_sale: dt.date
    data_end: dt.date  # exclusive: the day after the last event, or as_of
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ReturnsResult:
    """A returns table and the warnings to show with it."""

    table: pl.DataFrame
    warnings: tuple[str, ...]


def _col_or(schema: pl.Schema, name: str, default: pl.Expr) -> pl.Expr:
    return pl.col(name) if name in schema else default


def _micros(expr: pl.Expr) -> pl.Expr:
    return to_micros(expr.abs()).fill_null(0)


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _units(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def _keyed(frame: pl.LazyFrame, keys: Sequence[str]) -> list[pl.Expr]:
    """The key columns of ``frame`` (null where it lacks one)."""
    schema = frame.collect_schema()
    return [
        pl.col(k).cast(pl.String) if k in schema else pl.lit(None, dtype=pl.String).alias(k)
        for k in keys
    ]


#: Kinds of the pieces of :func:`line_pieces`: sale lines, cancelled lines, return
#: lines (negative), and the row marks of sale lines (their returned part).
SALE, CANCELLED, LINE, MARK = 0, 1, 2, 3
#: Column of the pieces: their kind.
KIND = "_kind"


def line_columns(schema: pl.Schema) -> list[pl.Expr]:
    """What each order line tells, read on its own: ``_negative``, ``_cancelled``,
    ``_units`` and ``_micros`` (its figures), ``_mark_units`` and ``_mark_micros`` (what
    its row marks return: a returned/refunded status, returned_quantity, refund_amount),
    and ``_informs`` (it carries returns information: a negative line, a returned
    status, or an input with returned_quantity/refund_amount columns)."""
    null_f = pl.lit(None, dtype=pl.Float64)
    quantity = _col_or(schema, "quantity", null_f).cast(pl.Float64)
    amount = _col_or(schema, "amount", null_f).cast(pl.Float64)
    status = _col_or(schema, "status", pl.lit(None, dtype=pl.String))  # its meaning
    negative = (quantity < 0).fill_null(False) | (amount < 0).fill_null(False)
    returned = status.is_in(REFUNDED).fill_null(False)
    units = quantity.abs().fill_null(1.0)
    micros = _micros(amount)
    returned_qty = (
        _col_or(schema, "returned_quantity", pl.lit(0.0)).cast(pl.Float64).abs().fill_null(0.0)
    )
    refund_figure = _col_or(schema, "refund_amount", pl.lit(None, dtype=pl.Float64))
    refund = _micros(refund_figure.cast(pl.Float64))
    has_columns = "returned_quantity" in schema or "refund_amount" in schema
    return [
        negative.alias("_negative"),
        status.is_in(NO_SALE).fill_null(False).alias("_cancelled"),
        units.alias("_units"),
        micros.alias("_micros"),
        # A returned status returns the whole row's units; returned_quantity what it says;
        # when both are present the larger figure counts (they describe the same return).
        pl.max_horizontal(returned_qty, pl.when(returned).then(units).otherwise(0.0)).alias(
            "_mark_units"
        ),
        # Money: the row's refund figure, as revenue nets it (SPEC "What a row means");
        # a returned or refunded row without one was given back whole.
        pl.when(returned & refund_figure.is_null())
        .then(micros)
        .otherwise(refund)
        .alias("_mark_micros"),
        (negative | returned | has_columns).alias("_informs"),
    ]


def line_pieces(
    lines: pl.LazyFrame, order: Sequence[str], keys: Sequence[str], *, runs: bool = True
) -> pl.LazyFrame:
    """Order lines (with :func:`line_columns`, their number ``_line``, the ``order``
    columns that key their order, ``day`` and ``keys``) summed into pieces: per kind
    (``KIND``), order, keys and day, ``_units``, ``_micros``, ``_whole`` (every line's
    units whole), ``_first_line``, ``_lines`` (how many) and ``_informs`` (any of them).

    All the returns metrics read of the lines, in sums that sum again: pieces may
    share their kind, order, keys and day (of several batches of lines, or of lines
    apart). A piece is a run of consecutive lines alike: exports write the lines of
    an order together, so there are about as few runs as groups, found at less than
    half a group-by's cost. ``runs=False``: a piece per line (for lines in memory,
    which the metric sums per order anyway, and faster so).
    """
    negative, cancelled = pl.col("_negative"), pl.col("_cancelled")
    kind = (
        pl.when(cancelled)
        .then(pl.lit(CANCELLED, dtype=pl.UInt8))
        .when(negative)
        .then(pl.lit(LINE, dtype=pl.UInt8))
        .otherwise(pl.lit(SALE, dtype=pl.UInt8))
    )
    group = [*order, *keys, "day"]
    lines = lines.with_columns(kind.alias(KIND))

    def each(frame: pl.LazyFrame, units: str, micros: str, by: list[str]) -> pl.LazyFrame:
        return frame.select(
            *by,
            pl.col(units).alias("_units"),
            pl.col(micros).alias("_micros"),
            (pl.col(units) % 1 == 0).alias("_whole"),
            pl.col("_line").alias("_first_line"),
            pl.lit(1, dtype=pl.UInt32).alias("_lines"),
            "_informs",
        )

    def summed(frame: pl.LazyFrame, units: str, micros: str, by: list[str]) -> pl.LazyFrame:
        if not runs:
            return each(frame, units, micros, by)
        run = pl.col("_run")
        frame = frame.with_columns(pl.struct(by).rle_id().alias("_run"))
        # A run of one line is its own piece: only longer runs are grouped (most runs
        # are one line, and the group-by costs more than the select).
        alone = run.ne_missing(run.shift(1)) & run.ne_missing(run.shift(-1))
        frame = frame.with_columns(alone.alias("_alone"))
        grouped = (
            frame.filter(~pl.col("_alone"))
            .group_by(run)
            .agg(
                *(pl.col(c).first() for c in by),
                pl.col(units).sum().alias("_units"),
                pl.col(micros).sum().alias("_micros"),
                (pl.col(units) % 1 == 0).all().alias("_whole"),
                pl.col("_line").min().alias("_first_line"),
                pl.len().alias("_lines"),
                pl.col("_informs").any(),
            )
            .drop("_run")
        )
        return pl.concat([each(frame.filter("_alone"), units, micros, by), grouped])

    marks = lines.filter(
        (pl.col(KIND) == SALE) & ((pl.col("_mark_units") > 0) | (pl.col("_mark_micros") > 0))
    )
    return pl.concat(
        [
            summed(lines, "_units", "_micros", [KIND, *group]),
            summed(marks, "_mark_units", "_mark_micros", group).select(
                pl.lit(MARK, dtype=pl.UInt8).alias(KIND), pl.all()
            ),
        ]
    )


@dataclass(frozen=True)
class _Pieces:
    """What the returns metrics read of the orders: the pieces of their lines
    (:func:`line_pieces` with ``_order`` keys), the returns file with the same keys, and
    the order lines' ids by line number (for a file matched by customer)."""

    frame: pl.DataFrame
    file: pl.DataFrame | None
    order_ids: pl.Series | None


def _pieces(
    orders: Rows | pl.LazyFrame, returns: pl.LazyFrame | None, keys: Sequence[str]
) -> _Pieces:
    """``orders`` (lines, or pieces already) and the returns file as :class:`_Pieces`."""
    given = as_rows(orders)
    frame = given.frame
    schema = frame.collect_schema()
    missing = [k for k in keys if k not in schema]
    if missing:
        raise InputError(f"--by {missing[0]}: the orders have no such column")
    file = returns.collect() if returns is not None else None
    by_customer = file is not None and CUSTOMER in file.columns
    if given.level is Level.pieces:
        return _Pieces(frame.collect(), file, None)
    rows, file = _order_keys(frame.with_row_index("_line").collect(), file)
    # The customer rides along where a return may take its order's.
    customer = [CUSTOMER] if by_customer and CUSTOMER not in keys else []
    lines = rows.lazy().with_columns(line_columns(schema))
    pieces = line_pieces(lines, [ORDER], [*keys, *customer], runs=False).collect()
    # By line number: ties between a customer's orders.
    order_ids = rows["order_id"] if by_customer and "order_id" in schema else None
    return _Pieces(pieces, file, order_ids)


#: Columns of :func:`span_of`: the first and last sale day (before --as-of), and whether
#: any line carries returns information (whatever its date).
SPAN_COLUMNS: dict[str, pl.DataType] = {
    "first": pl.Date(),
    "last": pl.Date(),
    "informs": pl.Boolean(),
}


def span_of(pieces: pl.DataFrame, as_of: dt.date | None) -> pl.DataFrame:
    """:data:`SPAN_COLUMNS` of ``pieces`` (:func:`line_pieces`), one row: of parts of
    the orders, their minimum, maximum and any give the whole's (:func:`sale_span`)."""
    sale = pl.col(KIND) == SALE
    if as_of is not None:
        sale = sale & (pl.col("day") < as_of)
    return pieces.select(
        pl.col("day").filter(sale).min().alias("first"),
        pl.col("day").filter(sale).max().alias("last"),
        pl.col("_informs").any().alias("informs"),
    ).cast({c: t for c, t in SPAN_COLUMNS.items()})


def lines_span(lines: pl.LazyFrame, as_of: dt.date | None) -> pl.DataFrame:
    """:func:`span_of` the order lines ``lines`` (canonical, as read)."""
    schema = lines.collect_schema()
    read = lines.with_row_index("_line").with_columns(line_columns(schema))
    return span_of(line_pieces(read, [], [], runs=False).collect(), as_of)


def sale_span(
    span: pl.DataFrame, *, has_file: bool, as_of: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The first and last sale day of :func:`span_of`'s row; refused when no line carries
    returns information (and no returns file is given), or when nothing was sold."""
    first, last, informs = span.row(0) if span.height else (None, None, None)
    if not has_file and not informs:
        raise InputError(NO_RETURNS_INFO)
    if first is None or last is None:
        cut = f" before --as-of {as_of}" if as_of else ""
        raise InputError(f"no sales{cut}: every row is a return line or cancelled")
    return first, last


def return_lines(
    orders: Rows | pl.LazyFrame,
    *,
    returns: pl.LazyFrame | None = None,
    keys: Sequence[str] = (),
    as_of: dt.date | None = None,
    by_return_date: bool = False,
) -> Lines:
    """Classify canonical orders (and a returns file) into sales and returns; see the module doc.

    ``orders``: the order lines, or their pieces (:func:`line_pieces`, with ``_order``
    keys as :func:`_order_keys` gives them: a large input read in batches, without a
    returns file). ``returns`` is a canonical returns frame: ``day`` (the return date),
    ``quantity``, ``amount``, and ``order_id`` and/or ``customer_id``, optionally
    ``product_id``.
    """
    keys = list(dict.fromkeys(keys))
    pieces = _pieces(orders, returns, keys)
    has_file = pieces.file is not None
    first, last = sale_span(span_of(pieces.frame, as_of), has_file=has_file, as_of=as_of)
    found = _classified(pieces, keys, as_of=as_of, by_return_date=by_return_date)
    return Lines(
        found.sales.collect(),
        found.returns,
        first,
        last,
        _data_end(last, found.last_return, as_of),
        _totals_warnings(found.dropped, found.over_orders, found.over_units),
    )


@dataclass(frozen=True)
class _Classes:
    """Orders classified (:func:`_classified`): sales and returns as :class:`Lines` has
    them, and the figures of the whole behind the warnings and the data end."""

    sales: pl.LazyFrame
    returns: pl.DataFrame
    dropped: int  # return lines of cancelled orders left out
    over_orders: int  # orders with more units returned than sold
    over_units: float  # how many more
    last_return: dt.date | None  # the last return's own day


def _classified(
    given: _Pieces, keys: list[str], *, as_of: dt.date | None, by_return_date: bool
) -> _Classes:
    """Sales and returns of the pieces of WHOLE orders (every line of each order, and
    its rows of the returns file): nothing here looks across orders, but a returns-file
    row matched by customer to the customer's latest order."""
    file, order_ids = given.file, given.order_ids
    pieces = given.frame.lazy()
    if as_of is not None:
        pieces = pieces.filter(pl.col("day") < as_of)
        if file is not None:
            file = file.filter(pl.col("day") < as_of)

    sale_rows = pieces.filter(pl.col(KIND) == SALE)
    # For the group-bys into orders (the pieces in memory).
    order_parts = parts_for(given.frame.height)

    # One row per sale order: its first day and sums, and what its returns may borrow
    # (its customer and dimension values, only when they are asked for).
    by_customer = file is not None and CUSTOMER in file.columns
    order_dims = [k for k in keys if k != CUSTOMER]
    dim_agg = [
        pl.when(pl.col(k).drop_nulls().n_unique() == 1)
        .then(pl.col(k).drop_nulls().first())
        .otherwise(None)
        .alias(f"{k}_o")
        if k == "product_id"
        else pl.col(k).sort_by("_first_line").drop_nulls().first().alias(f"{k}_o")
        for k in order_dims
    ]
    borrowed = [e.cast(pl.String) for e in dim_agg]
    if CUSTOMER in keys or by_customer:
        # The customer of the order's first line.
        first_line = pl.col("_first_line").arg_min()
        borrowed.append(pl.col(CUSTOMER).get(first_line).cast(pl.String).alias("_customer_o"))
    per_order = grouped_in_parts(
        sale_rows,
        [ORDER],
        ORDER,
        [
            pl.col("day").min().alias("_order_day"),
            pl.col("_units").sum().alias("_sold_units"),
            pl.col("_micros").sum().alias("_sold_micros"),
            pl.col("_whole").all(),
            pl.col("_first_line").min(),
            *borrowed,
        ],
        order_parts,
    )
    order_info = per_order.lazy()
    if keys:
        # Each sale line counts under its own keys, on its order's first day.
        keyed = sale_rows.join(order_info.select(ORDER, "_order_day"), on=ORDER, how="left")
        sales = grouped_in_parts(
            keyed.select(
                *_keyed(sale_rows, keys), ORDER, "_order_day", "_units", "_micros", "_whole"
            ),
            [*keys, ORDER],
            ORDER,
            [
                pl.col("_order_day").first().alias("day"),
                pl.col("_units").sum().alias("units"),
                pl.col("_micros").sum().alias("micros"),
                pl.col("_whole").all(),
            ],
            order_parts,
        ).lazy()
    else:
        # Without keys, every figure is a sum over orders: one row per order will do.
        sales = order_info.select(
            ORDER,
            pl.col("_order_day").alias("day"),
            pl.col("_sold_units").alias("units"),
            pl.col("_sold_micros").alias("micros"),
            "_whole",  # whether every line's units are whole (a sum may be whole without)
        )

    # Orders with cancelled rows: those without a sale row (whose returns match no sale
    # order) have their returns left out too. (An order id's key has its top bit set; a
    # line without one is an order of its own.)
    cancelled_orders = (
        pieces.filter((pl.col(KIND) == CANCELLED) & (pl.col(ORDER) >= TOP_BIT))
        .select(ORDER, pl.lit(True).alias("_cancelled"))
        .unique()
    )

    parts: list[pl.LazyFrame] = []
    if file is not None:
        parts.append(_file_returns(file.lazy(), order_info, keys, order_ids))
    for kind, source in ((LINE, "line"), (MARK, "row")):
        some = pieces.filter(pl.col(KIND) == kind)
        parts.append(
            some.select(
                *_keyed(some, keys),
                ORDER,
                pl.col("day").alias("_own_day"),
                pl.col("_units").alias("units"),
                pl.col("_micros").alias("micros"),
                "_lines",
                "_whole",
                pl.lit(source).alias("_source"),
            )
        )
    every = pl.concat(parts, how="vertical_relaxed")

    # Per order, the first source (file, then lines, then row marks) with a return wins.
    rank = pl.col("_source").replace_strict(
        list(_SOURCES), list(range(len(_SOURCES))), return_dtype=pl.Int64
    )
    every = (
        every.with_columns(rank.alias("_rank"))
        .filter(pl.col(ORDER).is_null() | (pl.col("_rank") == pl.col("_rank").min().over(ORDER)))
        .drop("_rank")
    )

    # A return without a dimension value of its own (a returns-file row) takes its order's.
    matched = pl.col("_order_day").is_not_null()
    attributed = (
        every.join(order_info, on=ORDER, how="left", suffix="_order")
        .join(cancelled_orders, on=ORDER, how="left")
        .with_columns(
            matched.alias("matched"),
            (~matched & pl.col("_cancelled").fill_null(False)).alias("_left_out"),
            *[
                pl.coalesce(pl.col(k), pl.col(f"{k}_o" if k != CUSTOMER else "_customer_o")).alias(
                    k
                )
                for k in keys
            ],
        )
        .collect()
    )
    left_out = attributed.filter(pl.col("_left_out"))
    dropped = int(left_out["_lines"].sum())
    if left_out.height:
        attributed = attributed.filter(~pl.col("_left_out"))
    day = pl.col("_own_day") if by_return_date else pl.coalesce("_order_day", "_own_day")
    rets = attributed.select(
        *keys, ORDER, "matched", day.alias("day"), "units", "micros", "_lines", "_whole"
    )

    over = (
        attributed.filter(pl.col("matched"))
        .group_by(ORDER)
        .agg(pl.col("units").sum(), pl.col("_sold_units").first())
        .filter(pl.col("units") > pl.col("_sold_units") + 1e-9)
    )
    excess = over.select((pl.col("units") - pl.col("_sold_units")).sum()).item()
    last_return = attributed["_own_day"].max()
    return _Classes(
        sales,
        rets,
        dropped,
        over.height,
        float(excess or 0.0),
        last_return if isinstance(last_return, dt.date) else None,
    )


def _totals_warnings(dropped: int, over_orders: int, over_units: float) -> tuple[str, ...]:
    """The warnings of :class:`_Classes`' figures of the whole."""
    warnings: list[str] = []
    if dropped:
        warnings.append(
            f"{_count(dropped, 'return line')} of cancelled orders left out "
            "(cancelled orders count in neither sales nor returns)"
        )
    if over_orders:
        warnings.append(
            f"{_count(over_orders, 'order')} with more units returned than sold "
            f"({_units(over_units)} units more in all); their returns are counted as recorded"
        )
    return tuple(warnings)


def _data_end(last_sale: dt.date, last_return: dt.date | None, as_of: dt.date | None) -> dt.date:
    """The data end (exclusive): the day after the last sale or return, or ``as_of``."""
    last_event = max(last_sale, last_return) if last_return is not None else last_sale
    return observed_end(last_event, as_of)


def _file_returns(
    returns: pl.LazyFrame,
    order_info: pl.LazyFrame,
    keys: Sequence[str],
    order_ids: pl.Series | None,
) -> pl.LazyFrame:
    """Rows of a returns file with the order key they belong to (null when none is known).

    By ``order_id`` when both files have one (``returns`` then has the order keys, see
    :func:`_order_keys`); a row without one, when the returns file has a ``customer_id``,
    belongs to the customer's latest sale order on or before the return date.
    ``order_ids``: the order rows' ids (by row number), for ties between a customer's orders.
    """
    schema = returns.collect_schema()
    frame = returns.with_columns(
        pl.col("quantity").cast(pl.Float64).abs().fill_null(1.0).alias("units")
        if "quantity" in schema
        else pl.lit(1.0).alias("units"),
        _micros(_col_or(schema, "amount", pl.lit(0.0)).cast(pl.Float64)).alias("micros"),
        pl.col("day").alias("_own_day"),
        pl.lit(1, dtype=pl.UInt32).alias("_lines"),
        pl.lit("file").alias("_source"),
    )
    by_id = ORDER in schema
    if not by_id:
        frame = frame.with_columns(pl.lit(None, dtype=pl.UInt64).alias(ORDER))
    if CUSTOMER in schema:
        # Rows without an order id: the customer's latest sale order on or before the return.
        # Of several that day, the first by order id; orders without one (their key is
        # their row's number) before those with one, in row order.
        unknown = pl.col("order_id").is_null() if by_id else pl.lit(True)
        loose = (
            frame.filter(unknown)
            .drop(ORDER)
            .with_columns(pl.col(CUSTOMER).cast(pl.String).alias("_match_customer"))
            .collect()  # read twice: for its customers, and to match
        )
        orders = (
            order_info.rename({"_customer_o": "_match_customer", "_order_day": "_match_day"})
            .join(loose.lazy().select("_match_customer"), on="_match_customer", how="semi")
            .collect()
        )
        ties = [ORDER]
        if order_ids is not None:
            ties.insert(0, "_order_id")
            orders = orders.with_columns(order_ids.gather(orders["_first_line"]).alias("_order_id"))
        candidates = (
            orders.lazy()
            .group_by("_match_customer", "_match_day")
            .agg(pl.col(ORDER).sort_by(ties, nulls_last=False).first())
            .sort("_match_day")
        )
        guessed = (
            loose.lazy()
            .sort("_own_day")
            .join_asof(
                candidates,
                left_on="_own_day",
                right_on="_match_day",
                by="_match_customer",
                strategy="backward",
                check_sortedness=False,
            )
            .select(frame.collect_schema().names())
        )
        frame = pl.concat([frame.filter(~unknown), guessed])
    whole = (pl.col("units") % 1 == 0).alias("_whole")
    return frame.select(
        *_keyed(frame, keys), ORDER, "_own_day", "units", "micros", "_lines", whole, "_source"
    )


def _order_keys(
    frame: pl.DataFrame, file: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """``frame`` and the returns ``file`` with the ``_order`` key of each row: an integer
    per ``order_id`` (:func:`keys.tagged_keys`, the same in both), else the row's number.

    Grouping and joining 10M rows on these cost a fraction of the same on the ids' text.
    The file's rows without an order id get a null key; a file without an ``order_id``
    column, or orders without one, no key column (the file's rows then match by customer).
    """
    row = frame["_line"].cast(pl.UInt64).alias(ORDER)
    if "order_id" not in frame.columns:
        return frame.hstack([row]), file
    by_id = file is not None and "order_id" in file.columns
    ids = [frame["order_id"].cast(pl.String)]
    if file is not None and by_id:
        ids.append(file["order_id"].cast(pl.String))
    keys = tagged_keys(pl.concat(ids)).alias(ORDER)
    own = keys.head(frame.height).fill_null(row)  # a row without an id: its number
    frame = frame.hstack([own])  # eager: with_columns would copy every column
    if file is not None and by_id:
        file = file.hstack([keys.tail(file.height)])
    return frame, file


def _in_grid(frame: pl.DataFrame | pl.LazyFrame, grid: Grid) -> pl.LazyFrame:
    return (
        frame.lazy()
        .with_columns(grid.period_index(pl.col("day")).alias(IDX))
        .filter(pl.col(IDX).is_between(0, grid.n_periods - 1))
    )


def _unmatched_warning(lines: int, units: float, micros: int) -> list[str]:
    """The warning on ``lines`` return lines (``units`` units, ``micros`` refunded)
    without a matching sale order."""
    if not lines:
        return []
    return [
        f"{_count(lines, 'return line')} ({_units(units)} units, "
        f"{_money(float(micros) / MICROS)} refunded) without a matching sale order (an "
        "order_id not among the sales, e.g. a cancellation invoice or an order placed before the "
        "data starts): counted on their own dates in units_returned and refunded, not in "
        "orders_returned"
    ]


def _loose(rets: pl.LazyFrame) -> list[str]:
    """:func:`_unmatched_warning` of the returns ``rets`` (:class:`Lines`)."""
    loose = rets.filter(~pl.col("matched")).collect()
    return _unmatched_warning(
        int(loose["_lines"].sum()), float(loose["units"].sum()), int(loose["micros"].sum())
    )


def _unit_dtype(*frames: pl.LazyFrame) -> pl.DataType:
    """Int64 when every line's units are whole (the ``_whole`` of each frame)."""
    whole = pl.concat([f.select(pl.col("_whole").all()) for f in frames]).collect()
    return pl.Int64() if whole["_whole"].all() else pl.Float64()


def _figures(sales: pl.LazyFrame, rets: pl.LazyFrame, group: Sequence[str]) -> pl.LazyFrame:
    """orders, units_sold, gross micros, orders_returned, units_returned, refunded micros
    per group (``sales``: a row per keys and order, see :class:`Lines`)."""
    group = list(group)
    sold = sales.group_by(group).agg(
        pl.len().cast(pl.Int64).alias("orders"),
        pl.col("units").sum().alias("units_sold"),
        pl.col("micros").sum().alias("_gross"),
    )
    back = rets.group_by(group).agg(
        pl.col(ORDER).filter(pl.col("matched")).n_unique().cast(pl.Int64).alias("orders_returned"),
        pl.col("units").sum().alias("units_returned"),
        pl.col("micros").sum().alias("_refunded"),
    )
    return sold.join(back, on=group, how="full", coalesce=True, nulls_equal=True)


def _finish(frame: pl.LazyFrame, unit_dtype: pl.DataType) -> pl.LazyFrame:
    counts = ["orders", "orders_returned", "_gross", "_refunded"]
    return (
        frame.with_columns(pl.col(c).fill_null(0) for c in counts)
        .with_columns(
            pl.col(c).fill_null(0.0).cast(unit_dtype) for c in ("units_sold", "units_returned")
        )
        .with_columns(
            money(pl.col("_gross")).alias("gross_sales"),
            money(pl.col("_refunded")).alias("refunded"),
            ratio("units_returned", "units_sold").alias("unit_return_rate"),
            ratio("_refunded", "_gross").alias("value_return_rate"),
            ratio("orders_returned", "orders").alias("order_return_rate"),
        )
    )


def sales_grid(params: Params, first_sale: dt.date, last_sale: dt.date) -> Grid:
    """The periods of the returns table: from the first to the last sale (or as asked)."""
    return Grid.build(*grid_range(params, first_sale, last_sale), params.period, Window(None))


def _grid(lines: Lines, params: Params) -> Grid:
    return sales_grid(params, lines.first_sale, lines.last_sale)


#: Columns of :func:`_figures`.
FIGURES = ("orders", "orders_returned", "units_sold", "units_returned", "_gross", "_refunded")
#: The kernel's sums per cell (keys..., ``IDX``; :func:`returns_counts`): the figures
#: of :func:`_figures`, the count of rows with a fraction of a unit, and the return lines
#: without a matching sale order (lines, units, micros).
CELL_SUMS: dict[str, pl.DataType] = {
    "orders": pl.Int64(),
    "orders_returned": pl.Int64(),
    "units_sold": pl.Float64(),
    "units_returned": pl.Float64(),
    "_gross": pl.Int128(),
    "_refunded": pl.Int128(),
    "_fractional": pl.Int64(),
    "_loose_lines": pl.Int64(),
    "_loose_units": pl.Float64(),
    "_loose_micros": pl.Int128(),
}
#: The kernel's sums of the whole, on its row with a null ``IDX`` (see :class:`_Classes`).
TOTAL_SUMS: dict[str, pl.DataType] = {
    "_dropped": pl.Int64(),
    "_over_orders": pl.Int64(),
    "_over_units": pl.Float64(),
}
#: The last return's own day, on the same row: of parts, the latest (not a sum).
LAST_RETURN = "_last_return"


def counts_schema(keys: Sequence[str]) -> dict[str, pl.DataType]:
    """The columns of :func:`returns_counts` with ``keys``."""
    schema: dict[str, pl.DataType] = {k: pl.String() for k in keys}
    schema[IDX] = pl.Int64()
    schema.update(CELL_SUMS)
    schema.update(TOTAL_SUMS)
    schema[LAST_RETURN] = pl.Date()
    return schema


def returns_counts(
    orders: Rows | pl.LazyFrame,
    *,
    keys: Sequence[str],
    grid: Grid,
    as_of: dt.date | None = None,
    by_return_date: bool = False,
    returns: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """The kernel of :func:`returns_table` (SPEC §8) over WHOLE orders (every line of
    each order; with ``returns``, its rows too): additive sums per cell (``keys...,
    IDX`` of ``grid``, the grid of the whole data) and of the whole (the row with a null
    ``IDX``), :func:`counts_schema`. Counts of parts of the orders, summed per cell (the
    last return: its latest), give :func:`finish_returns` the whole's table."""
    keys = list(dict.fromkeys(keys))
    return _counts(
        _pieces(orders, returns, keys), keys, grid, as_of=as_of, by_return_date=by_return_date
    )


def _counts(
    pieces: _Pieces, keys: list[str], grid: Grid, *, as_of: dt.date | None, by_return_date: bool
) -> pl.DataFrame:
    found = _classified(pieces, keys, as_of=as_of, by_return_date=by_return_date)
    sales, rets = _in_grid(found.sales, grid), _in_grid(found.returns, grid)
    group = [*keys, IDX]
    fractional = (
        pl.concat([sales.select(*group, "_whole"), rets.select(*group, "_whole")])
        .group_by(group)
        .agg((~pl.col("_whole")).sum().alias("_fractional"))
    )
    loose = (
        rets.filter(~pl.col("matched"))
        .group_by(group)
        .agg(
            pl.col("_lines").sum().alias("_loose_lines"),
            pl.col("units").sum().alias("_loose_units"),
            pl.col("micros").sum().alias("_loose_micros"),
        )
    )
    schema = counts_schema(keys)
    cells = (
        _figures(sales, rets, group)
        .join(fractional, on=group, how="left", nulls_equal=True)
        .join(loose, on=group, how="left", nulls_equal=True)
        .with_columns(pl.col(c).fill_null(0) for c in CELL_SUMS)
        .collect()
    )
    total = pl.DataFrame(
        {
            "_dropped": [found.dropped],
            "_over_orders": [found.over_orders],
            "_over_units": [found.over_units],
            LAST_RETURN: [found.last_return],
        }
    )
    added = pl.concat([cells, total], how="diagonal_relaxed")
    return added.cast({c: t for c, t in schema.items()}).select(list(schema))


def finish_returns(
    summed: pl.DataFrame,
    grid: Grid,
    keys: Sequence[str],
    *,
    last_sale: dt.date,
    as_of: dt.date | None,
) -> ReturnsResult:
    """The merge of :func:`returns_counts`: the returns table (with ``IDX``) and its
    warnings from the kernel's counts summed per cell (``summed``; its last return the
    latest of the parts'), on ``grid`` from the first to the last sale (``last_sale``)."""
    keys = list(dict.fromkeys(keys))
    group = [*keys, IDX]
    cells = summed.filter(pl.col(IDX).is_not_null())
    whole = summed.filter(pl.col(IDX).is_null())
    last_return = whole[LAST_RETURN].max()
    data_end = _data_end(
        last_sale, last_return if isinstance(last_return, dt.date) else None, as_of
    )
    periods = grid.periods().drop("window_start")
    base = cells.lazy().select(keys).unique().join(periods, how="cross") if keys else periods
    figures = cells.lazy().select(*group, *FIGURES)
    unit_dtype = pl.Int64() if not cells["_fractional"].sum() else pl.Float64()
    table = (
        base.join(figures, on=group, how="left", nulls_equal=True)
        .pipe(_finish, unit_dtype)
        .with_columns((pl.col("period_end") <= pl.lit(data_end)).alias("complete"))
        .sort(group, nulls_last=True)
        .select(*keys, *RETURNS_COLUMNS, IDX)
        .collect()
    )
    warnings = _totals_warnings(
        int(whole["_dropped"].sum()),
        int(whole["_over_orders"].sum()),
        float(whole["_over_units"].sum()),
    )
    loose = _unmatched_warning(
        int(cells["_loose_lines"].sum()),
        float(cells["_loose_units"].sum()),
        int(cells["_loose_micros"].sum()),
    )
    return ReturnsResult(table, (*warnings, *loose))


def returns_table(
    orders: Rows | pl.LazyFrame,
    *,
    params: Params,
    returns: pl.LazyFrame | None = None,
    by_return_date: bool = False,
    resampling: Resampling | None = None,
) -> ReturnsResult:
    """SPEC §2.6 per group (``params.by``) and period of the grid from the first to the last sale.

    unit_return_rate = units_returned / units_sold; value_return_rate = refunded /
    gross_sales; order_return_rate = orders_returned / orders (null when a denominator
    is 0). ``complete`` is false when the period ends after the data end. With
    ``resampling``, value_return_rate's bootstrap bounds (:func:`_value_bounds`) after
    the columns.
    """
    keys = list(dict.fromkeys(params.by))
    as_of = params.as_of
    pieces = _pieces(orders, returns, keys)
    has_file = pieces.file is not None
    first, last = sale_span(span_of(pieces.frame, as_of), has_file=has_file, as_of=as_of)
    grid = sales_grid(params, first, last)
    counts = _counts(pieces, keys, grid, as_of=as_of, by_return_date=by_return_date)
    del pieces
    result = finish_returns(counts, grid, keys, last_sale=last, as_of=as_of)
    table = result.table
    if resampling is not None:
        found = _value_bounds(orders, returns, params, by_return_date, grid, resampling)
        table = table.join(found, on=[*keys, IDX], how="left", nulls_equal=True)
    return ReturnsResult(table.drop(IDX), result.warnings)


def _value_bounds(
    orders: Rows | pl.LazyFrame,
    returns: pl.LazyFrame | None,
    params: Params,
    by_return_date: bool,
    grid: Grid,
    resampling: Resampling,
) -> pl.DataFrame:
    """value_return_rate's bootstrap bounds per group and period (``keys..., IDX``): the
    sales and returns classified again with the customer as one more key (a return
    takes its order's customer, as ``--by customer_id`` does), each customer's refunded
    over their gross sales. Returns no customer can be found for (a returns-file row
    without customer_id that matches no order) are one more resampled unit."""
    keys = list(params.by)
    lines = return_lines(
        orders,
        returns=returns,
        keys=[*keys, CUSTOMER],
        as_of=params.as_of,
        by_return_date=by_return_date,
    )
    sales, rets = _in_grid(lines.sales, grid), _in_grid(lines.returns, grid)
    group = list(dict.fromkeys([*keys, CUSTOMER, IDX]))
    per_customer = (
        _figures(sales, rets, group)
        .select(
            *group,
            pl.col("_gross").fill_null(0).cast(pl.Float64),
            pl.col("_refunded").fill_null(0).cast(pl.Float64),
        )
        .collect()
    )
    return ratio_bounds(
        per_customer,
        cells=[*keys, IDX],
        customer=CUSTOMER,
        ratios={"value_return_rate": ("_refunded", "_gross")},
        how=resampling,
    )


def top_returns(
    orders: Rows | pl.LazyFrame,
    *,
    params: Params,
    n: int,
    min_units: float = 20,
    returns: pl.LazyFrame | None = None,
    by_return_date: bool = False,
) -> ReturnsResult:
    """The ``n`` products or customers (``params.by``, default product_id) with the highest
    unit_return_rate over the whole range, among those with units_sold >= ``min_units``.

    Ties: more units_returned first, then the key. Columns: key, then ``TOP_COLUMNS``.
    """
    keys = list(params.by) or ["product_id"]
    if len(keys) != 1 or keys[0] not in TOP_KEYS:
        raise UsageError(f"--top ranks one of {', '.join(TOP_KEYS)}; got --by {', '.join(keys)}")
    if n < 1:
        raise UsageError(f"--top {n}: give a positive number of rows")
    key = keys[0]
    lines = return_lines(
        orders, returns=returns, keys=keys, as_of=params.as_of, by_return_date=by_return_date
    )
    grid = _grid(lines, params)
    sales, rets = _in_grid(lines.sales, grid), _in_grid(lines.returns, grid)
    table = (
        _figures(sales, rets, [key])
        .pipe(_finish, _unit_dtype(sales, rets))
        .filter(pl.col("units_sold") >= min_units)
        .sort(
            ["unit_return_rate", "units_returned", key],
            descending=[True, True, False],
            nulls_last=True,
        )
        .head(n)
        .select(key, *TOP_COLUMNS)
        .collect()
    )
    return ReturnsResult(table, (*lines.warnings, *_loose(rets)))
