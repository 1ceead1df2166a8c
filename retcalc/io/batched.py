"""Large orders read in batches into the classified rows of the period metrics.

Retention, churn, cohorts and the BG/NBD summary read of each order line only
its customer, day, revenue day, purchase flag and revenue (:class:`retcalc.engines.Level`
``days``). For an input the streaming engine reads
(:func:`retcalc.io.load.engine_for`), this module reads it in batches of
:data:`BATCH_ROWS` rows, classifies each line as it comes and keeps only those
columns, summed per customer and day within the batch (with ``anonymous``, the
customer id as a 64-bit key), so the text columns (order ids, statuses, product
names) never sit in memory whole.

Every row is parsed and checked with the expressions of
:func:`retcalc.io.frames.load_orders`, and every error and warning is the same,
naming the same line. What needs more than one row is done apart:

- each text number column's decimal mark is chosen from the evidence of every
  row (a pass over those columns, before the rows are read);
- a line whose meaning depends on its order (a line without a status takes its
  order's; a negative line counts on its order's day) is kept whole, with every
  other line of its order, and classified once all are read. The orders
  concerned are found first by a pass over the order ids (a superset: any
  value with a minus sign or a parenthesis might be negative);
- rows that repeat an earlier row are found from a hash of each row, as the
  in-memory reader does (``--dedupe``: before the rows are read, to drop them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import polars as pl

from retcalc.errors import InputError, first_line
from retcalc.io import dates, numbers
from retcalc.io.frames import (
    Loaded,
    LoadOptions,
    OrdersPlan,
    clean_ids,
    date_limits,
    maybe_unclean,
    out_of_range,
    plan_orders,
    ragged_error,
    repeat_warning,
    repeated_rows,
    row_checks,
    unreadable,
    with_mark,
)
from retcalc.io.load import ROW, Table, collect, engine_for
from retcalc.metrics.events import CUSTOMER, MICROS, classify, to_micros
from retcalc.metrics.keys import SEEDS, pair_words

#: Rows per batch: big enough that per-batch work is vectorised, small enough
#: that a batch of every column of a wide export stays well under a gigabyte.
BATCH_ROWS = 1_000_000


def reads_in_batches(table: Table) -> bool:
    """Whether orders read for a ``days``-level command go through this module."""
    return engine_for(table) == "streaming"


@dataclasses.dataclass
class _Tally:
    """The first data row (smallest index) that has a fault, and how many do."""

    row: int | None = None
    count: int = 0
    extra: Any = None  # what the error needs besides the row (a label)

    def add(self, frame: pl.DataFrame, flag: pl.Expr) -> None:
        hit = frame.filter(flag).select(pl.col(ROW).min().alias("first"), pl.len().alias("n"))
        self.record(*hit.row(0))

    def record(self, first: int | None, n: int | None) -> None:
        """Add ``n`` rows with the fault, the first of them ``first``."""
        if not n:
            return
        self.count += int(n)
        if first is not None and (self.row is None or int(first) < self.row):
            self.row = int(first)


def _batches(table: Table, frame: pl.LazyFrame, rows: int) -> Any:
    try:
        yield from frame.collect_batches(chunk_size=rows, maintain_order=True, engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{table.name}: cannot read the data: {first_line(exc)}") from None


def _decide_marks(plan: OrdersPlan, blank: pl.Expr, rows: int) -> InputError | None:
    """Choose the decimal mark of each text number column from every non-blank row.

    A column that mixes marks (or cannot tell) is read with a point for now: the
    error is returned, to be raised where the in-memory reader raises it (after
    the date checks).
    """
    items = plan.numbers.text_items
    if not items:
        return None
    if plan.numbers.forced is not None:
        plan.numbers.decide({i.canonical: {"mark": None} for i in items})
        return None
    texts = [e for e in plan.numbers.exprs() if e.meta.output_name().startswith("_text_")]
    first: dict[str, dict[str, int | None]] = {
        i.canonical: {"point": None, "comma": None, "either": None} for i in items
    }
    query = plan.table.scan.filter(~blank).select(pl.col(ROW), *texts)
    for batch in _batches(plan.table, query, rows):
        evidence = plan.numbers.evidence(plan.numbers.readings(batch))
        for name, seen in evidence.items():
            for kind, row in first[name].items():
                if row is None:
                    first[name][kind] = seen[kind]  # batches come in row order
    try:
        plan.numbers.decide({name: with_mark(rows) for name, rows in first.items()})
    except InputError as exc:
        for item in items:
            plan.numbers.marks.setdefault(item.canonical, numbers.DecimalMark.point.value)
        return exc
    return None


#: The number columns ``events.classify`` reads.
CLASSIFY_NUMBERS = ("quantity", "amount", "refund_amount")
#: Column of the rows read: true on a line of an order with a line that needs its order.
APART = "_apart"


def _involved_orders(plan: OrdersPlan) -> pl.Series | None:
    """The order ids, as written, of every order with a line that needs its order to be
    classified: a line without a status (when there is a status column) or a line that
    may be negative. Every spelling that cleans to such an id is listed (``1001`` and
    ``1001.0``), so that the rows can be matched before their ids are cleaned."""
    mapping = plan.mapping
    if "order_id" not in mapping:
        return None
    maybe_negative: list[pl.Expr] = []
    for item in plan.numbers.items:
        if item.canonical not in ("quantity", "amount", "unit_price"):
            continue
        raw = pl.col(item.source)
        if item.native:
            maybe_negative.append((numbers.native(raw) < 0).fill_null(False))
        else:
            maybe_negative.append(numbers.may_be_negative(raw))
    needs = pl.any_horizontal(maybe_negative) if maybe_negative else pl.lit(False)
    if "status" in mapping:
        status = pl.col(mapping.get("status") or "").cast(pl.String).str.strip_chars()
        needs = needs | status.is_null() | (status == "")
    order = pl.col(mapping.get("order_id") or "").cast(pl.String)
    unclean = maybe_unclean(order)
    found = collect(
        plan.table,
        plan.table.scan.select(
            order.alias("raw"), needs.alias("needs"), unclean.alias("unclean")
        ).filter(pl.col("raw").is_not_null() & (pl.col("needs") | pl.col("unclean"))),
    )
    needed = found.filter(pl.col("needs"))["raw"].unique()
    cleaned = clean_ids(needed).drop_nulls().unique()
    variants = found.filter(pl.col("unclean"))["raw"].unique()
    kept = variants.filter(clean_ids(variants).is_in(cleaned.implode()).fill_null(False))
    spellings = pl.concat([needed, cleaned, kept]).unique()
    return spellings


class _Reader:
    """The state of one read: the checks' tallies, the rows kept, the lines kept whole.

    ``anonymous``: customers are kept as two 64-bit hashes of their id (see
    :mod:`retcalc.metrics.keys`) instead of the text; :meth:`finish` checks that
    no two ids share the first.
    """

    def __init__(
        self,
        plan: OrdersPlan,
        options: LoadOptions,
        keys: Sequence[str],
        *,
        anonymous: bool,
        revenue: bool = True,
    ):
        self.plan = plan
        self.options = options
        self.keys = list(keys)
        self.anonymous = anonymous
        self.revenue = revenue
        self.has_amount = "amount" in plan.mapping or (
            "unit_price" in plan.mapping and "quantity" in plan.mapping
        )
        self.ragged = _Tally()
        self.bad = {name: _Tally() for name in ["day", *(i.canonical for i in plan.numbers.items)]}
        self.limits = date_limits("day", options.latest_date)
        self.range = [_Tally(extra=label) for label, _ in self.limits]
        self.no_date = 0
        self.no_id = 0
        self.kept = 0
        self.hashes: list[pl.Series] = []
        self.parts: list[pl.DataFrame] = []
        self.whole: list[pl.DataFrame] = []
        self.first_hashes = _Distinct()
        self.pair_words = _Distinct()

    def take(self, batch: pl.DataFrame, drop: pl.Series | None) -> None:
        """Check one batch of rows (in row order) and keep its classified rows."""
        if "_ragged" in batch.columns:
            self.ragged.add(batch, pl.col("_ragged"))
            batch = batch.drop("_ragged")
        batch = batch.filter(~pl.col("_blank")).drop("_blank")
        if drop is None:
            self.hashes.append(batch["_hash"])
        elif drop.len():
            batch = batch.filter(~pl.col(ROW).is_in(drop.implode()))
        batch = batch.drop("_hash")
        # Order ids are cleaned only on the lines kept whole (``_slim``): no other line
        # reads its order id.
        ids = [CUSTOMER, *(["order_id"] if "order_id" in self.keys else [])]
        batch = batch.with_columns(clean_ids(batch[c]) for c in ids)
        batch = self.plan.numbers.apply(self.plan.numbers.readings(batch))
        self._tally(batch)
        batch = batch.drop(c for c in batch.columns if c.startswith("_bad_"))
        day, customer = pl.col("day"), pl.col(CUSTOMER)
        batch = batch.filter(customer.is_not_null() & day.is_not_null())
        self.kept += batch.height
        if self.anonymous:
            h1, h2 = (batch[CUSTOMER].hash(seed) for seed in SEEDS)
            self.first_hashes.add(h1)
            self.pair_words.add(pair_words(h1, h2))
            batch = batch.with_columns(h1.alias(CUSTOMER))
        if "amount" not in batch.columns and {"unit_price", "quantity"} <= set(batch.columns):
            batch = batch.with_columns((pl.col("unit_price") * pl.col("quantity")).alias("amount"))
        if "unit_price" in batch.columns:
            batch = batch.drop("unit_price")
        if self.options.as_of is not None:
            batch = batch.filter(day < self.options.as_of)
        if APART in batch.columns:
            apart = pl.col(APART).fill_null(False)
            self.whole.append(self._slim(batch.filter(apart)))
            batch = batch.filter(~apart).drop(APART)
        # No line left here needs its order: each is classified on its own.
        self._keep(classify(batch.lazy(), by_order=False))

    def _tally(self, batch: pl.DataFrame) -> None:
        """Count every fault of the batch's rows, and the rows without a date or a
        customer, in one pass: per fault, its first row and how many rows have it."""
        flags = [(self.bad["day"], pl.col("_bad_day"))]
        flags += [
            (tally, condition)
            for tally, (_, condition) in zip(self.range, self.limits, strict=True)
        ]
        flags += [
            (self.bad[item.canonical], pl.col(f"_bad_{item.canonical}"))
            for item in self.plan.numbers.items
        ]
        day, customer = pl.col("day"), pl.col(CUSTOMER)
        found = batch.select(
            *(
                expr
                for i, (_, flag) in enumerate(flags)
                for expr in (
                    pl.col(ROW).filter(flag).min().alias(f"first{i}"),
                    flag.sum().alias(f"count{i}"),
                )
            ),
            day.is_null().sum().alias("no_date"),
            (customer.is_null() & day.is_not_null()).sum().alias("no_id"),
        ).row(0)
        for i, (tally, _) in enumerate(flags):
            tally.record(found[2 * i], found[2 * i + 1])
        self.no_date += found[-2]
        self.no_id += found[-1]

    def _slim(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Lines kept whole, with only what ``classify`` reads (statuses as categories)."""
        wanted = [ROW, *self.keys, CUSTOMER, "day", *CLASSIFY_NUMBERS, "order_id", "status"]
        lines = lines.select(c for c in wanted if c in lines.columns)
        if "order_id" in lines.columns:
            lines = lines.with_columns(clean_ids(lines["order_id"]))
        if "status" in lines.columns:
            lines = lines.with_columns(pl.col("status").cast(pl.Categorical))
        return lines

    def _keep(self, events: pl.LazyFrame, *, moved: bool = False) -> None:
        """Keep what the metrics read of classified rows, summed within the batch.

        With ``revenue``: one row per ``(keys, customer, day, revenue_day, is_purchase)``
        with the sum of the lines' integer micros (as ``events.daily_revenue`` rounds
        them, per line), so that sums of these sums are the sums of the lines. Without:
        the distinct ``(keys, customer, day)`` of purchase lines, all that retention reads.
        ``moved``: the rows are lines kept whole, whose revenue day may not be their day.
        """
        group = [*self.keys, CUSTOMER, "day"]
        if self.revenue and not moved:
            # Only a line kept whole can count on another day (its order's): here every
            # revenue day is the day, and a group-by on one column fewer is cheaper.
            kept = (
                events.group_by([*group, "is_purchase"])
                .agg(to_micros(pl.col("revenue")).sum().alias("micros"))
                .with_columns(pl.col("day").alias("revenue_day"))
                .select(*group_columns(self.keys), "micros")
            )
        elif self.revenue:
            kept = events.group_by(group_columns(self.keys)).agg(
                to_micros(pl.col("revenue")).sum().alias("micros")
            )
        else:
            kept = events.filter(pl.col("is_purchase")).select(group).unique()
        self.parts.append(kept.collect())

    def finish(self) -> pl.DataFrame | None:
        """Classify the lines kept whole and put every part together; ``None`` when two
        customer ids share a first hash (to be read again with the ids)."""
        if self.whole:
            lines = pl.concat(self.whole).sort(ROW)
            self.whole = []
            if "status" in lines.columns:
                lines = lines.with_columns(pl.col("status").cast(pl.String))
            self._keep(classify(lines.lazy()), moved=True)
        if self.anonymous and self.first_hashes.count() != self.pair_words.count():
            return None
        frame = pl.concat(self.parts)
        self.parts = []
        if not self.revenue:
            return frame.with_columns(pl.lit(True).alias("is_purchase"))
        # No metric at this level reads a line's amount, only whether the input has
        # amounts (cohorts show money columns then): a column of nulls says so in no space.
        amount = [pl.lit(None, dtype=pl.Null).alias("amount")] if self.has_amount else []
        # ``revenue`` as the Spark engine gives it: daily_revenue turns it back into the
        # same integer micros (exact while a row's sum stays under 2e9 units).
        return frame.select(
            *group_columns(self.keys),
            (pl.col("micros") / MICROS).alias("revenue"),
            *amount,
        )

    def refuse(self, mark_error: InputError | None) -> None:
        """Raise what the in-memory reader raises first, after the lines with more fields:
        an unreadable date, a date out of range, a column's decimal mark, a number."""
        plan, table = self.plan, self.plan.table
        day = self.bad["day"]
        if day.row is not None:
            raise unreadable(
                table, day.row, day.count, plan.date_source, "order_date", dates.EXPECTED
            )
        for tally in self.range:
            if tally.row is not None:
                raise out_of_range(
                    table, tally.row, tally.count, plan.date_source, "order_date", tally.extra
                )
        if mark_error is not None:
            raise mark_error
        for item in plan.numbers.items:
            tally = self.bad[item.canonical]
            if tally.row is not None:
                expected = plan.numbers.expected(item)
                raise unreadable(
                    table, tally.row, tally.count, item.source, item.canonical, expected
                )
        if self.kept == 0:
            raise InputError(
                f"{table.name}: has a header but no order rows with a customer and a date"
            )

    def warnings(self, repeats: pl.DataFrame) -> list[str]:
        """Repeated rows, rows without a date, rows without a customer (in that order)."""
        table = self.plan.table
        out = [repeat_warning(table, repeats, dedupe=self.options.dedupe)] if repeats.height else []
        if self.no_date:
            out.append(f"{table.name}: {self.no_date} rows have no order date and were left out")
        if self.no_id:
            out.append(f"{table.name}: {self.no_id} rows have no customer id and were left out")
        return out

    def repeats(self, table: Table, hash_expr: pl.Expr, blank: pl.Expr) -> pl.DataFrame:
        """:func:`frames.repeated_rows` from the hashes of the rows read; the rows
        themselves are looked up again only when two hashes agree."""
        hashes = pl.concat(self.hashes)
        self.hashes = []
        if hashes.n_unique() == hashes.len():
            row = table.frame.collect_schema()[ROW]
            return repeated_rows(table, pl.DataFrame(schema={ROW: row, "_hash": pl.UInt64}))
        shared = hashes.filter(hashes.is_duplicated()).unique()
        rows = collect(
            table,
            table.scan.filter(~blank)
            .select(pl.col(ROW), hash_expr)
            .filter(pl.col("_hash").is_in(shared.implode())),
        )
        return repeated_rows(table, rows)


def group_columns(keys: Sequence[str]) -> list[str]:
    """The columns of a kept row besides its revenue."""
    return [*keys, CUSTOMER, "day", "revenue_day", "is_purchase"]


class _Distinct:
    """The distinct values of a ``UInt64`` column seen in batches, kept as they come and
    made distinct again whenever they have doubled."""

    def __init__(self) -> None:
        self.parts: list[pl.Series] = []
        self.held = 0
        self.settled = 0

    def add(self, values: pl.Series) -> None:
        part = values.unique()
        self.parts.append(part)
        self.held += part.len()
        if self.held > 2 * max(self.settled, 1_000_000):
            self._settle()

    def _settle(self) -> None:
        merged = pl.concat(self.parts).unique() if self.parts else pl.Series([], dtype=pl.UInt64)
        self.parts = [merged]
        self.held = self.settled = merged.len()

    def count(self) -> int:
        self._settle()
        return self.settled


def load_order_events(
    spec: str,
    options: LoadOptions,
    *,
    need_amount: bool = False,
    dimensions: Sequence[str] = (),
    table: Table | None = None,
    anonymous: bool = False,
    batch_rows: int | None = None,
    revenue: bool = True,
) -> Loaded:
    """``frames.load_orders`` and ``events.classify`` in batches (see the module doc).

    The frame holds the classified rows summed per batch (see ``_Reader._keep``), with
    the columns the period metrics read:
    ``keys..., customer_id, day, revenue_day, is_purchase, revenue[, amount]``
    (``amount``, when the input has amounts, is a column of nulls: its presence is
    all that the metrics at this level read). ``revenue=False`` (retention): only
    purchase rows, ``keys..., customer_id, day, is_purchase``.
    ``anonymous``: ``customer_id`` is the ``UInt64`` key of
    :func:`retcalc.metrics.keys.encode_customers` rather than the id (for commands
    that never show an id); when two ids share a key the input is read again with
    the ids.
    """
    rows = batch_rows or BATCH_ROWS
    plan = plan_orders(spec, options, need_amount=need_amount, dimensions=dimensions, table=table)
    table = plan.table
    checks = row_checks(table)
    blank = checks[0]
    mark_error = _decide_marks(plan, blank, rows)
    drop = None
    repeats = None
    if options.dedupe:
        hashes = collect(table, table.scan.filter(~blank).select(pl.col(ROW), checks[1]))
        repeats = repeated_rows(table, hashes)
        drop = repeats[ROW]
    involved = _involved_orders(plan)
    keys = [d for d in dimensions if d != CUSTOMER and d in _dimension_names(plan)]
    reader = _Reader(plan, options, keys, anonymous=anonymous, revenue=revenue)
    query = table.scan.select(pl.col(ROW), *plan.columns, *checks)
    if involved is not None and involved.len():
        # Looked up while read (the set of spellings is built once).
        apart = pl.col("order_id").cast(pl.String).is_in(involved.implode())
        query = query.with_columns(apart.alias(APART))
    for batch in _batches(table, query, rows):
        reader.take(batch, drop)
    if reader.ragged.row is not None:
        raise ragged_error(table, reader.ragged.row, reader.ragged.count)
    if repeats is None:
        repeats = reader.repeats(table, checks[1], blank)
    reader.refuse(mark_error)
    warnings = [*plan.warnings, *reader.warnings(repeats)]
    frame = reader.finish()
    if frame is None:  # two ids share a 64-bit hash: read again, keeping the ids
        return load_order_events(
            spec,
            options,
            need_amount=need_amount,
            dimensions=dimensions,
            table=table,
            batch_rows=batch_rows,
            revenue=revenue,
        )
    return Loaded(
        table,
        plan.mapping,
        frame,
        plan.formats,
        warnings,
        plan.numbers.marks,
        repeats.height,
    )


def _dimension_names(plan: OrdersPlan) -> set[str]:
    return {e.meta.output_name() for e in plan.columns}
