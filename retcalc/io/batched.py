"""Large orders read in one streaming pass into the classified rows of the period metrics.

Retention, churn, cohorts and the BG/NBD summary read of each order line only
its customer, day, revenue day, purchase flag and revenue (:class:`retcalc.engines.Level`
``days``). For an input the streaming engine reads
(:func:`retcalc.io.load.engine_for`), this module reads it with Polars'
streaming engine, classifies each line as it comes and keeps only those
columns, summed per customer and day (with ``anonymous``, the customer id as a
64-bit key), so the text columns (order ids, statuses, product names) never sit
in memory whole.

Every row is parsed and checked with the expressions of
:func:`retcalc.io.frames.load_orders`, and every error and warning is the same,
naming the same line. One plan with several outputs sharing the scan gives the
checks' tallies (each fault's first row and count), the rows' hashes, the lines
kept whole and the other lines summed. What needs more than one row is done apart:

- each text number column's decimal mark is chosen from the evidence of every
  row: the rows are read with the marks the first :data:`SAMPLE_ROWS` rows tell,
  their tallies give each kind of value's first row, and when those settle other
  marks (the first rows read the same either way, rare) every row is read again;
- a line whose meaning may depend on its order (a line without a status takes
  its order's; a negative line counts on its order's day) is kept whole. Each
  batch also gives the purchase days of its orders (keyed by two hashes of the
  order id, one row per run of an order's lines); when every line kept whole is
  a negative one, those days place it on its order's first purchase day. When
  some line lacks a status (every other line of its order then matters), or two
  order ids share a hash, a second pass reads the other lines of the orders
  concerned (already summed) for their statuses and days, and each kept line is
  classified with them once all are read;
- rows that repeat an earlier row are found from a hash of each row, as the
  in-memory reader does (``--dedupe``: before the rows are read, to drop them).

The returns metrics (:class:`retcalc.engines.Level` ``pieces``) read each line on
its own, so :class:`_PiecesReader` keeps no line whole: each batch's lines are
summed into :func:`retcalc.metrics.returns.line_pieces`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import polars as pl

from retcalc.engines import Holds, Level
from retcalc.errors import InputError
from retcalc.io import checks, currency, dates, numbers
from retcalc.io.checks import date_limits, money_limits
from retcalc.io.frames import (
    EMPTY_AMOUNT,
    Loaded,
    LoadOptions,
    OrdersPlan,
    clean_id_columns,
    cleaned_id,
    empty_amount,
    id_forms_warning,
    load_orders,
    plan_orders,
    ragged_error,
    refund_from_adjusted,
    repeat_warning,
    repeated_rows,
    row_checks,
    with_date_flags,
    with_mark,
)
from retcalc.io.load import ROW, Table, collect, engine_for, reading_error, reads_table
from retcalc.kernels.keys import TOP_BIT, free_low_bits, id_hashes
from retcalc.kernels.words import free_bits, run_differences
from retcalc.metrics.events import CUSTOMER, classify, negative_line
from retcalc.metrics.money import MICROS, to_micros

#: Rows per batch of the decimal-mark pass: big enough that per-batch work is
#: vectorised, small enough that a batch stays well under a gigabyte.
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

    def record(self, first: int | None, n: int | None) -> None:
        """Add ``n`` rows with the fault, the first of them ``first``."""
        if not n:
            return
        self.count += int(n)
        if first is not None and (self.row is None or int(first) < self.row):
            self.row = int(first)


def _first_and_count(flag: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The first data row (smallest index) where ``flag`` holds, and how many rows."""
    return pl.col(ROW).filter(flag).min(), flag.sum()


def _batches(table: Table, frame: pl.LazyFrame, rows: int, *, ordered: bool = True) -> Any:
    try:
        yield from frame.collect_batches(
            chunk_size=rows, maintain_order=ordered, engine="streaming"
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise reading_error(table, exc) from None


#: Rows read from the start of an input to guess its text number columns' decimal
#: marks, before the pass over every row (whose evidence then settles them).
SAMPLE_ROWS = 100_000


def _guess_marks(plan: OrdersPlan, blank: pl.Expr, rows: int) -> dict[str, str]:
    """Each text number column's decimal mark as the first ``rows`` non-blank rows tell
    it (``--decimal`` when given; a point when they do not tell): the marks the pass
    over every row reads with, until :func:`_settle_marks` confirms them."""
    marks = plan.numbers.marks
    items = plan.numbers.text_items
    if not items:
        return {}
    if plan.numbers.forced is not None:
        plan.numbers.decide({i.canonical: {"mark": None} for i in items})
        return dict(marks)
    texts = [e for e in plan.numbers.exprs() if e.meta.output_name().startswith("_text_")]
    sample = collect(
        plan.table, plan.table.scan.filter(~blank).select(pl.col(ROW), *texts).head(rows)
    )
    try:
        plan.numbers.decide(plan.numbers.evidence(plan.numbers.readings(sample)))
    except InputError:
        marks.update({i.canonical: numbers.DecimalMark.point.value for i in items})
    return dict(marks)


def _settle_marks(
    plan: OrdersPlan, evidence: dict[str, dict[str, int | None]]
) -> InputError | None:
    """Choose each text number column's decimal mark from the evidence of every non-blank
    row (``evidence``: per column, the first row of each kind of value; none when
    ``--decimal`` forces the marks).

    When a column mixes marks (or cannot tell), the error is returned, to be raised
    where the in-memory reader raises it (after the date checks); the rows read with
    the guessed marks serve until then.
    """
    if not evidence:
        return None
    try:
        plan.numbers.decide({name: with_mark(rows) for name, rows in evidence.items()})
    except InputError as exc:
        return exc
    return None


#: The number columns ``events.classify`` reads.
CLASSIFY_NUMBERS = ("quantity", "amount", "refund_amount")
#: Column of every row read: true on a row that is kept (a customer, a date, before ``--as-of``).
KEEP = "_keep"
#: Column of the rows kept: true on a line that may need its order to be classified.
NEEDY = "_needy"
#: Column of the lines kept whole: true on a line read only for its order's status and day.
DONOR = "_donor"
#: Column of the rows kept with ``anonymous``: the second hash of the customer's id.
SECOND = "_h2"
#: Columns of the order days of :meth:`_Reader.read`: two hashes of an order's id.
ORDER_KEYS = ("_o1", "_o2")
#: Column of the lines kept whole: the first purchase day of the line's order.
ORDER_DAY = "_order_day"
#: Column of the rows kept with ``orders``: the row's number on a line without an order id
#: (an order of its own), else null.
SOLO = "_solo"
#: Prefix of the columns of every row read that tell a text number column's decimal mark.
EVIDENCE = "_mark_"


class _Reader:
    """The state of one read: the checks' tallies, the rows kept, the lines kept whole.

    ``anonymous``: customers are kept as two 64-bit hashes of their id (see
    :mod:`retcalc.kernels.keys`) instead of the text; :meth:`finish` checks that
    no two ids share the first. ``orders``: rows are summed apart per order
    (:class:`retcalc.engines.Level` ``orders``), the order kept as a 64-bit key.
    """

    #: Whether rows on or after ``--as-of`` are dropped as they are read.
    cuts_as_of = True

    def __init__(
        self,
        plan: OrdersPlan,
        options: LoadOptions,
        keys: Sequence[str],
        *,
        anonymous: bool,
        revenue: bool = True,
        orders: bool = False,
    ):
        self.plan = plan
        self.options = options
        self.keys = list(keys)
        self.anonymous = anonymous
        self.revenue = revenue
        self.orders = orders
        self.has_amount = "amount" in plan.mapping or (
            "unit_price" in plan.mapping and "quantity" in plan.mapping
        )
        self.ragged = _Tally()
        self.bad = {name: _Tally() for name in ["day", *(i.canonical for i in plan.numbers.items)]}
        self.limits = date_limits("day", options.latest_date)
        self.range = [_Tally(extra=label) for label, _ in self.limits]
        # Per text number column whose mark is guessed (not forced), the first row read
        # of each kind of value: only with a point, only with a comma, differently each
        # way (see _settle_marks).
        guessed = plan.numbers.text_items if plan.numbers.forced is None else []
        self.evidence: dict[str, dict[str, int | None]] = {
            item.canonical: {"point": None, "comma": None, "either": None} for item in guessed
        }
        self.no_rate = _Tally()  # rows before the first rate of their currency (--fx)
        self.empty = _Tally()  # rows with a customer and a date and no amount
        self.no_date = 0
        self.no_id = 0
        self.kept = 0
        self.other_currency = 0  # kept rows of a currency --currency leaves out
        self.money: dict[str, _Tally] = {}  # amounts too large, per column (money_limits)
        self.hashes: pl.Series | None = None
        self.parts: list[pl.DataFrame] = []
        self.whole: pl.DataFrame | None = None
        self.wholes: list[pl.DataFrame] = []  # per batch, while reading
        # Per batch, the first purchase day of each order (see :meth:`_order_days`).
        self.days: list[pl.DataFrame] | None = None

    def _rows(self, query: pl.LazyFrame, drop: pl.Series | None) -> pl.LazyFrame:
        """Every row of ``query`` parsed, checked (see :meth:`_parsed`) and classified on
        its own: what counts for every line not kept whole."""
        return classify(self._parsed(query, drop), by_order=False)

    def _parsed(self, query: pl.LazyFrame, drop: pl.Series | None) -> pl.LazyFrame:
        """Every row of ``query`` parsed and checked: ids cleaned, numbers read, ``_skip``
        on a blank row or one ``--dedupe`` drops, ``_bad_`` flags (see :meth:`_flags`),
        ``KEEP`` and ``NEEDY``."""
        skip = pl.col("_blank")
        if drop is not None and drop.len():
            skip = skip | pl.col(ROW).is_in(drop.implode())
        # Order ids are cleaned only on the lines kept whole (``_slim``), unless they are
        # a dimension or the rows are summed per order: no other line reads its order id.
        ids = [CUSTOMER, *(["order_id"] if self._cleans_orders() else [])]
        rows = clean_id_columns(query.with_columns(skip.alias("_skip")), ids)
        if self.orders:
            has_id = "order_id" in self.plan.mapping
            own = pl.col("order_id").is_null() if has_id else pl.lit(True)
            rows = rows.with_columns(pl.when(own).then(pl.col(ROW)).alias(SOLO))
        # The texts of the number columns whose marks are guessed ride along: each batch's
        # distinct values tell the marks (cheaper than reading every value both ways).
        texts = (pl.col(f"_text_{name}").alias(EVIDENCE + name) for name in self.evidence)
        rows = self.plan.numbers.lazy_readings(rows.with_columns(texts))
        rows = self.plan.numbers.apply(rows)
        empty = empty_amount(self.plan.mapping)
        if empty is not None:
            rows = rows.with_columns(empty.alias(EMPTY_AMOUNT))
        rows = refund_from_adjusted(self.plan.money.convert(rows))
        if self.anonymous:
            first, second = id_hashes(pl.col(CUSTOMER))
            rows = rows.with_columns(first.alias(CUSTOMER), second.alias(SECOND))
        names = rows.collect_schema().names()
        if "amount" not in names and {"unit_price", "quantity"} <= set(names):
            rows = rows.with_columns((pl.col("unit_price") * pl.col("quantity")).alias("amount"))
            names.append("amount")
        day = pl.col("day")
        keep = ~pl.col("_skip") & pl.col(CUSTOMER).is_not_null() & day.is_not_null()
        if self.options.as_of is not None and self.cuts_as_of:
            keep = keep & (day < self.options.as_of)
        in_currency = self.plan.money.kept()
        if in_currency is not None:
            keep = keep & in_currency
        return rows.with_columns(keep.alias(KEEP), self._needy(names).alias(NEEDY))

    def _kept(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """The rows of :meth:`_rows` that are kept (a customer, a date, before
        ``--as-of``), with what ``classify`` reads, its columns and ``NEEDY``."""
        rows = rows.filter(pl.col(KEEP))
        return rows.select(
            c
            for c in rows.collect_schema().names()
            if c not in ("_blank", "_skip", "_hash", "_ragged", "unit_price", KEEP, EMPTY_AMOUNT)
            and c != currency.CODE
            and not c.startswith(("_bad_", EVIDENCE))
        )

    def _needy(self, names: Sequence[str]) -> pl.Expr:
        """True on a line whose classification may depend on its order's other lines (as
        ``events.classify`` decides it): a line without a status (it takes its order's)
        and, where revenue is kept, a negative line (it counts on its order's day). A
        superset: a line whose order has no other line comes out as on its own."""
        if "order_id" not in names:
            return pl.lit(False)
        negative = negative_line(names)
        needy = negative if self.revenue else pl.lit(False)
        if "status" in names:
            status = pl.col("status")  # stripped and lowercased by the plan
            needy = needy | ((status.is_null() | (status == "")) & ~negative)
        return pl.col("order_id").is_not_null() & needy

    def read(self, query: pl.LazyFrame, drop: pl.Series | None, rows: int) -> None:
        """Check every row and keep the classified rows: the row-wise work (parsing,
        cleaning, hashing) in the streaming engine, then per batch of ``rows`` rows the
        checks' tallies, the rows' hashes, the lines that may need their order (kept
        whole) and the other lines summed within the batch (which bounds the memory:
        one plan with all four outputs over every row held far more)."""
        flags = self._flags()
        names = query.collect_schema().names()
        ragged = "_ragged" in names
        hashes: list[pl.Series] = []
        self.wholes = []
        # Only negative lines count on another day than their own, when revenue is kept.
        # Rows summed per order carry their orders' days already (see _read_days).
        wants_days = self.revenue and "order_id" in names and not self._order_keyed()
        self.days = [] if wants_days else None
        parsed = self._rows(query, drop)
        limits = money_limits(parsed.collect_schema().names())
        self.money = {canonical: _Tally() for canonical, _ in limits}
        for batch in _batches(self.plan.table, parsed, rows, ordered=False):
            frame = batch.lazy()
            live = frame.filter(~pl.col("_skip"))
            outputs = {"tallies": live.select(*self._tally_exprs(flags))}
            if limits:
                outputs["money"] = live.filter(pl.col(KEEP)).select(
                    e.alias(f"{canonical}{i}")
                    for canonical, flag in limits
                    for i, e in enumerate(_first_and_count(flag))
                )
            if ragged:
                outputs["ragged"] = frame.select(*_first_and_count(pl.col("_ragged")))
            if drop is None:
                outputs["hashes"] = live.select("_hash")
            for name in self.evidence:
                text = pl.col(EVIDENCE + name).alias("text")
                outputs[EVIDENCE + name] = live.group_by(text).agg(pl.col(ROW).min())
            outputs.update(self._outputs(self._kept(frame)))
            # The batch is in memory: the in-memory engine runs the per-run sums (running
            # sums and shifts) faster than the streaming one, and holds less.
            frames = pl.collect_all(list(outputs.values()), engine="in-memory")
            found = dict(zip(outputs, frames, strict=True))
            if ragged:
                self.ragged.record(*found["ragged"].row(0))
            tallies = found["tallies"].row(0)
            for i, (tally, _) in enumerate(flags):
                tally.record(tallies[2 * i], tallies[2 * i + 1])
            no_date, no_id, kept_rows, other = (int(n or 0) for n in tallies[-4:])
            self.no_date += no_date
            self.no_id += no_id
            self.kept += kept_rows
            self.other_currency += other
            if "money" in found:
                money = found["money"].row(0)
                for i, tally in enumerate(self.money.values()):
                    tally.record(money[2 * i], money[2 * i + 1])
            if drop is None:
                hashes.append(found["hashes"]["_hash"])
            for name, first in self.evidence.items():
                seen = self.plan.numbers.first_of_kinds(found[EVIDENCE + name])
                for kind, row in seen.items():
                    known = first[kind]
                    if row is not None and (known is None or row < known):
                        first[kind] = row
            self._store(found)
        if hashes:
            self.hashes = pl.concat(hashes)
        if self.wholes:
            self.whole = pl.concat(self.wholes)
        self.wholes = []

    def _outputs(self, kept: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        """What :meth:`read` keeps of a batch's rows kept (``kept``): the lines kept
        whole, the other lines summed, and their orders' days."""
        outputs = {"whole": self._slim(kept.filter(pl.col(NEEDY)))}
        # No line left here needs its order: each is classified on its own (in _rows).
        events = kept.filter(~pl.col(NEEDY))
        outputs["summed"] = self._summed(events)
        if self.days is not None:
            outputs["days"] = self._order_days(events)
        return outputs

    def _store(self, found: dict[str, pl.DataFrame]) -> None:
        """Keep a batch's :meth:`_outputs`."""
        self.wholes.append(found["whole"])
        self.parts.append(found["summed"].rechunk())  # one chunk: cheap now, not at the end
        if self.days is not None:
            self.days.append(_fewer_days(found["days"], found["summed"].height))

    def _order_days(self, events: pl.LazyFrame) -> pl.LazyFrame:
        """The purchase days of the orders among ``events`` (classified on their own, which
        is exact when no line lacks a status), keyed by two hashes of their cleaned ids:
        one row per run of lines of one order and day (see :func:`_fewer_days`)."""
        order = pl.col("order_id") if self._cleans_orders() else cleaned_id(pl.col("order_id"))
        raw, day = pl.col("order_id").hash(), pl.col("day")
        # Lines of one raw id are lines of one order: runs found before the ids are cleaned.
        run = (raw != raw.shift(1)).fill_null(True) | (day != day.shift(1)).fill_null(True)
        return (
            events.filter(pl.col("is_purchase") & pl.col("order_id").is_not_null())
            .select("order_id", day)
            .filter(run)
            # Cleaned once, then hashed twice: as one expression, the cleaning ran per hash.
            .with_columns(order.alias("order_id"))
            .select(*_order_keys(pl.col("order_id")), day)
            .filter(pl.col(ORDER_KEYS[0]).is_not_null())
        )

    def days_suffice(self) -> bool:
        """Whether the order days of :meth:`read` classify the lines kept whole, so that
        :meth:`read_donors` need not run; if so, each gets its order's first purchase
        day (``ORDER_DAY``). They do when every line kept whole is a negative one (none
        lacks a status, so every other line was classified exactly on its own) and no
        two of the orders read share the first hash of their ids."""
        order_days = self._read_days()
        whole = self.whole
        if whole is None or whole.height == 0:
            return True
        if order_days is None:
            return False
        if not whole.select(negative_line(whole.columns).all()).item():
            return False
        first, second = ORDER_KEYS
        if first not in whole.columns:  # with ``orders``, _slim gave each line its hashes
            whole = whole.with_columns(*_order_keys(pl.col("order_id")))
        wanted = whole.select(pl.col(first).unique())
        found = (
            order_days.join(wanted.lazy(), on=first, how="semi")
            .group_by(ORDER_KEYS)
            .agg(pl.col("day").min().alias(ORDER_DAY))
            .collect()
        )
        del order_days
        if found[first].n_unique() != found.height:
            return False  # two orders share a first hash: the second pass matches on ids
        lines = whole.join(found.rename({second: "_o2_found"}), on=first, how="left")
        if lines.select((pl.col("_o2_found") != pl.col(second)).any()).item():
            return False  # an order shares its first hash with a line's
        kept = () if self._order_keyed() else (first, second)  # summed on with orders
        self.whole = lines.drop(*kept, "_o2_found")
        return True

    def _read_days(self) -> pl.LazyFrame | None:
        """The purchase days of the orders :meth:`read` read (``ORDER_KEYS, day``; several
        rows of an order may come), handed over: kept per batch, or, for rows summed per
        order, their purchase rows (not kept a second time while reading). ``None`` when
        none were kept."""
        days, self.days = self.days, None
        if self._order_keyed() and self.revenue:
            summed = pl.concat(
                [part.select(*ORDER_KEYS, "day", "is_purchase") for part in self.parts],
                rechunk=False,
            )
            purchases = pl.col("is_purchase") & pl.col(ORDER_KEYS[0]).is_not_null()
            return summed.lazy().filter(purchases).select(*ORDER_KEYS, "day")
        return None if days is None else pl.concat(days, rechunk=False).lazy()

    def read_donors(self, query: pl.LazyFrame, drop: pl.Series | None) -> None:
        """The other lines of the orders of the lines kept whole, to classify those with
        (after :meth:`read`): one more pass, only when some line needs its order. Each
        donor is already summed; it is read again only for its status and day.
        ``query``: :meth:`read`'s, its ``_blank`` false (a blank row has no order id)."""
        whole = self.whole
        if whole is None or "order_id" not in whole.columns:
            return
        ids = whole["order_id"].drop_nulls()
        if ids.len() == 0:
            return
        hashes = ids.cast(pl.String).hash().unique()
        cleaned = cleaned_id(pl.col("order_id"))
        # Donors are found by the 64-bit hash of their cleaned order id, not its text
        # (cheaper). A line of another order with the same hash may come too: harmless,
        # as classify matches lines on their ids, and donors are dropped after it.
        query = query.filter(cleaned.hash().is_in(hashes.implode()))
        kept = self._kept(self._rows(query, drop))
        (donors,) = self._collect([self._slim(kept.filter(~pl.col(NEEDY)))])
        self.whole = pl.concat(
            [
                whole.with_columns(pl.lit(False).alias(DONOR)),
                donors.with_columns(pl.lit(True).alias(DONOR)),
            ],
            how="vertical_relaxed",
        )

    def _collect(self, frames: list[pl.LazyFrame]) -> list[pl.DataFrame]:
        try:
            return pl.collect_all(frames, engine="streaming")
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise reading_error(self.plan.table, exc) from None

    def _flags(self) -> list[tuple[_Tally, pl.Expr]]:
        flags = [(self.bad["day"], pl.col("_bad_day"))]
        flags += [
            (tally, condition)
            for tally, (_, condition) in zip(self.range, self.limits, strict=True)
        ]
        flags += [
            (self.bad[item.canonical], pl.col(f"_bad_{item.canonical}"))
            for item in self.plan.numbers.items
        ]
        money = self.plan.money
        if money.rates is not None and money.rates.days is not None:
            # As the in-memory reader checks them: among the rows with a customer and a date.
            kept = pl.col(currency.NO_RATE) & pl.col(CUSTOMER).is_not_null()
            in_currency = money.kept()
            flags.append((self.no_rate, kept if in_currency is None else kept & in_currency))
        if empty_amount(self.plan.mapping) is not None:
            flags.append((self.empty, pl.col(EMPTY_AMOUNT)))
        return flags

    def _tally_exprs(self, flags: Sequence[tuple[_Tally, pl.Expr]]) -> list[pl.Expr]:
        """Every fault's first row and count, then the rows without a date, without a
        customer, with both (the rows kept), and of those the rows in another currency."""
        day, customer = pl.col("day"), pl.col(CUSTOMER)
        in_currency = self.plan.money.kept()
        other = pl.lit(False) if in_currency is None else ~in_currency
        return [
            *(
                expr.alias(f"{kind}{i}")
                for i, (_, flag) in enumerate(flags)
                for kind, expr in zip(("first", "count"), _first_and_count(flag), strict=True)
            ),
            day.is_null().sum().alias("no_date"),
            (customer.is_null() & day.is_not_null()).sum().alias("no_id"),
            (customer.is_not_null() & day.is_not_null()).sum().alias("kept"),
            (customer.is_not_null() & day.is_not_null() & other).sum().alias("other"),
        ]

    def _slim(self, lines: pl.LazyFrame) -> pl.LazyFrame:
        """Lines kept whole, with only what ``classify`` reads (statuses as categories)."""
        names = lines.collect_schema().names()
        wanted = [
            *(ROW, *self.keys, CUSTOMER, SECOND, SOLO, "day", *CLASSIFY_NUMBERS),
            *("order_id", "status"),
        ]
        lines = lines.select(c for c in wanted if c in names)
        if "order_id" in names:
            lines = clean_id_columns(lines, ["order_id"])
            if self._order_keyed():  # summed on its order's hashes
                lines = lines.with_columns(*_order_keys(pl.col("order_id")))
            if "order_id" not in self.keys:
                # As categories: small, and their codes stand for the ids in classify.
                lines = lines.with_columns(pl.col("order_id").cast(pl.Categorical))
        if "status" in names:
            lines = lines.with_columns(pl.col("status").cast(pl.Categorical))
        return lines

    def _cleans_orders(self) -> bool:
        """Whether every row's order id is cleaned as it is read (else only where needed)."""
        return "order_id" in self.plan.mapping and (self.orders or "order_id" in self.keys)

    def _order_keyed(self) -> bool:
        """Whether rows are summed per order under the two hashes of its id (``ORDER_KEYS``):
        with ``orders``, unless the order id is a dimension (kept as text)."""
        return self.orders and "order_id" in self.plan.mapping and "order_id" not in self.keys

    def _group(self, *, keyed: bool = True) -> list[str]:
        """The columns rows are summed on (besides the revenue day). With ``orders``, the
        order (its keys; the cleaned id with ``keyed=False``) and ``SOLO``."""
        group = [*self.keys, CUSTOMER, *([SECOND] if self.anonymous else []), "day"]
        if self.orders:
            order = ORDER_KEYS if keyed else ["order_id"]
            group += [*(order if self._order_keyed() else []), SOLO]
        return group

    def _summed(self, events: pl.LazyFrame, *, moved: bool = False) -> pl.LazyFrame:
        """What the metrics read of classified rows, summed.

        With ``revenue``: rows of ``(keys, customer, day, revenue_day, is_purchase)``
        with the sum of the lines' integer micros (as ``events.daily_revenue`` rounds
        them, per line), so that sums of these sums are the sums of the lines. Without:
        the ``(keys, customer, day)`` of purchase lines, all that retention reads. The
        same values may come in several rows: the metrics sum them again.
        ``moved``: the rows are lines kept whole, whose revenue day may not be their day.
        With ``anonymous``, the id's second hash rides along (for :meth:`finish`'s check);
        with ``orders``, the order's hashes and ``SOLO`` are summed on too.

        A batch read (not ``moved``) is summed per run of consecutive rows with the same
        values: exports write the lines of an order together, so a run is about an
        order, and there are about as few runs as distinct values (665,161 runs and
        659,367 values in a batch of a million lines of ``bench/``), found at a third
        of a group-by's cost.
        """
        group = self._group()
        if self.revenue and not moved:
            # Only a line kept whole can count on another day (its order's): here every
            # revenue day is the day. An order's id is hashed once per run, not per line.
            runs = _run_sums(events, [*self._group(keyed=False), "is_purchase"])
            if self._order_keyed():
                runs = runs.with_columns(*_order_keys(pl.col("order_id"))).drop("order_id")
            return runs.with_columns(pl.col("day").alias("revenue_day"))
        if self.revenue:
            micros = to_micros(pl.col("revenue")).sum().alias("micros")
            return events.group_by([*group, "revenue_day", "is_purchase"]).agg(micros)
        return events.filter(pl.col("is_purchase")).select(group).filter(_run_starts(group))

    def finish(self) -> pl.DataFrame | None:
        """Classify the lines kept whole and put every part together; ``None`` when two
        customer ids share a first hash (to be read again with the ids)."""
        if self.whole is not None and self.whole.height:
            lines, self.whole = self.whole, None
            if "status" in lines.columns:
                lines = lines.with_columns(pl.col("status").cast(pl.String))
            if ORDER_DAY in lines.columns:
                # Every line here is negative (see days_suffice): on its order's day.
                events = classify(lines.lazy(), by_order=False).with_columns(
                    pl.coalesce(ORDER_DAY, "day").alias("revenue_day")
                )
            else:
                # Row order: a line without a status takes its order's first status.
                lines = lines.sort(ROW)
                if "order_id" in lines.columns and lines.schema["order_id"] == pl.Categorical:
                    # One code per id: classify's order-level joins on integers, not text.
                    lines = lines.with_columns(pl.col("order_id").to_physical())
                events = classify(lines.lazy())
                if DONOR in lines.columns:
                    events = events.filter(~pl.col(DONOR))
            self.parts.append(self._summed(events, moved=True).collect())
        columns = (
            [*group_columns(self.keys), "micros"] if self.revenue else [*self.keys, CUSTOMER, "day"]
        )
        columns += [SECOND] if self.anonymous else []
        columns += ORDER_KEYS if self._order_keyed() else []
        # Not copied into one chunk: that would hold every part twice for a moment.
        frame = pl.concat([part.select(columns) for part in self.parts], rechunk=False)
        self.parts = []
        if self.anonymous:
            # Keys with room for a day's number below them (see kernels.words.sorted_days).
            keys = free_low_bits(frame[CUSTOMER], frame[SECOND], free_bits(frame["day"]))
            if keys is None:
                return None
            frame = frame.with_columns(keys.alias(CUSTOMER)).drop(SECOND)
        if self._order_keyed():
            frame = _with_order_keys(frame)
        if not self.revenue:
            return frame.with_columns(pl.lit(True).alias("is_purchase"))
        # No metric at this level reads a line's amount, only whether the input has
        # amounts (cohorts show money columns then): a column of nulls says so in no space.
        amount = [pl.lit(None, dtype=pl.Null).alias("amount")] if self.has_amount else []
        # As the Spark engine gives them: the metrics read ``micros`` (money.event_micros).
        order = ["order_id"] if self._order_keyed() else []
        return frame.select(
            *group_columns(self.keys),
            *order,
            "micros",
            (pl.col("micros") / MICROS).alias("revenue"),
            *amount,
        )

    def refuse(self, mark_error: InputError | None) -> None:
        """Raise what the in-memory reader raises first, after the lines with more fields:
        an unreadable date, a date out of range, a column's decimal mark, a number."""
        plan, table = self.plan, self.plan.table
        day = self.bad["day"]
        if day.row is not None:
            raise checks.unreadable_at(
                table, day.row, day.count, plan.date_source, "order_date", dates.EXPECTED
            )
        for tally in self.range:
            if tally.row is not None:
                raise checks.out_of_range_at(
                    table, tally.row, tally.count, plan.date_source, "order_date", tally.extra
                )
        if mark_error is not None:
            raise mark_error
        for item in plan.numbers.items:
            tally = self.bad[item.canonical]
            if tally.row is not None:
                expected = plan.numbers.expected(item)
                raise checks.unreadable_at(
                    table, tally.row, tally.count, item.source, item.canonical, expected
                )
        if self.no_rate.row is not None:
            raise self._no_rate_error()
        if self.kept == 0:
            raise checks.no_order_rows(table.name)

    def _no_rate_error(self) -> InputError:
        """:func:`currency.check_rates`' error, the row read again for its currency and day."""
        plan, row = self.plan, self.no_rate.row
        assert row is not None and plan.money.rates is not None and plan.money.source
        query = plan.table.scan.filter(pl.col(ROW) == row).select(pl.col(ROW), *plan.columns)
        found = collect(plan.table, with_date_flags(query)).row(0, named=True)
        return currency.no_rate_error(
            plan.table.name,
            plan.money.source,
            plan.money.rates,
            found[currency.CODE],
            found["day"],
            plan.table.location(row),
            self.no_rate.count,
        )

    def warnings(self, repeats: pl.DataFrame) -> list[str]:
        """Repeated rows, rows without a date, rows without a customer (in that order)."""
        table = self.plan.table
        out = [repeat_warning(table, repeats, dedupe=self.options.dedupe)] if repeats.height else []
        if self.no_date:
            out.append(checks.no_date_warning(table.name, self.no_date))
        if self.no_id:
            out.append(checks.no_customer_warning(table.name, self.no_id))
        return out

    def repeats(self, table: Table, hash_expr: pl.Expr, blank: pl.Expr) -> pl.DataFrame:
        """:func:`frames.repeated_rows` from the hashes of the rows read; the rows
        themselves are looked up again only when two hashes agree."""
        hashes = self.hashes if self.hashes is not None else pl.Series([], dtype=pl.UInt64)
        self.hashes = None
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


class _PiecesReader(_Reader):
    """A read for the returns metrics (:class:`retcalc.engines.Level` ``pieces``): each
    batch's lines summed into :func:`retcalc.metrics.returns.line_pieces`, their orders
    keyed by the two hashes of the id (a line without one by its row number), which
    :meth:`finish` turns into the keys of :func:`retcalc.metrics.returns._order_keys`.

    Every line is read on its own (no line needs its order's), and every row with a
    customer and a date is kept: whether the lines carry returns information is
    told by the rows after ``--as-of`` too, so the metric drops those itself.
    """

    cuts_as_of = False

    def __init__(self, plan: OrdersPlan, options: LoadOptions, keys: Sequence[str]):
        super().__init__(plan, options, keys, anonymous=False, revenue=False, orders=True)

    def _rows(self, query: pl.LazyFrame, drop: pl.Series | None) -> pl.LazyFrame:
        return self._parsed(query, drop)  # classified by returns.line_columns instead

    def _needy(self, names: Sequence[str]) -> pl.Expr:
        return pl.lit(False)  # no line needs its order's (none is kept whole)

    def _outputs(self, kept: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        from retcalc.metrics import returns

        lines = kept.with_columns(
            *returns.line_columns(kept.collect_schema()), pl.col(ROW).alias("_line")
        )
        if "order_id" in self.plan.mapping:
            lines = lines.with_columns(*_order_keys(pl.col("order_id")))
        else:
            lines = lines.with_columns(pl.lit(None, dtype=pl.UInt64).alias(k) for k in ORDER_KEYS)
        return {"pieces": returns.line_pieces(lines, [*ORDER_KEYS, SOLO], self.keys)}

    def _store(self, found: dict[str, pl.DataFrame]) -> None:
        self.parts.append(found["pieces"].rechunk())

    def finish(self) -> pl.DataFrame:
        from retcalc.metrics import returns

        frame = pl.concat(self.parts, rechunk=False)
        self.parts = []
        frame = _with_order_keys(frame, returns.ORDER, tag=True)
        order = pl.coalesce(returns.ORDER, pl.col(SOLO).cast(pl.UInt64))
        return frame.with_columns(order.alias(returns.ORDER)).drop(SOLO)


def _run_starts(columns: Sequence[str]) -> pl.Expr:
    """True on the first row and on each row whose ``columns`` differ from the row
    before's (a null equal to a null)."""
    first = pl.int_range(pl.len()) == 0
    return pl.any_horizontal(first, *(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in columns))


def _run_sums(rows: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """``columns`` and ``micros`` (the sum of the rows' revenue in integer micros) per run
    of consecutive ``rows`` with the same ``columns``: the difference of a running sum
    at the run's last row and at the last row before it."""
    total = pl.col("_total")
    last = _run_starts(columns).shift(-1, fill_value=True)
    return (
        rows.select(
            *columns, to_micros(pl.col("revenue")).cum_sum().alias("_total"), last.alias("_last")
        )
        .filter(pl.col("_last"))
        .select(*columns, run_differences(total).alias("micros"))
    )


def _fewer_days(days: pl.DataFrame, summed: int) -> pl.DataFrame:
    """A batch's order days (:meth:`_Reader._order_days`), summed per order when there are
    many more of them than the batch's summed rows (``summed``).

    Exports write the lines of an order together, so one row per run of lines is
    about one per order, and at most one per customer and day in the summed rows:
    a group-by would cost more than it saves. Lines of an order apart (or a customer
    with many orders a day) leave more runs, bounded here."""
    if days.height <= 2 * summed:
        return days
    return days.group_by(ORDER_KEYS).agg(pl.col("day").min())


def _order_keys(order: pl.Expr) -> list[pl.Expr]:
    """The two hashes of a (cleaned) order id (:func:`retcalc.kernels.keys.id_hashes`), as ``ORDER_KEYS``."""
    hashes = id_hashes(order.cast(pl.String))
    return [h.alias(name) for h, name in zip(hashes, ORDER_KEYS, strict=True)]


def _with_order_keys(
    frame: pl.DataFrame, name: str = "order_id", *, tag: bool = False
) -> pl.DataFrame:
    """``frame`` with ``name``, a ``UInt64`` key per order, in place of ``ORDER_KEYS``
    (the two hashes of its id, null without one): the first hash where it tells the
    orders apart (:func:`retcalc.kernels.keys.free_low_bits`), else a number per
    distinct pair of hashes. ``tag``: every key has its top bit set (as
    :func:`retcalc.kernels.keys.tagged_keys` has), so that none equals a row number."""
    first, second = ORDER_KEYS
    top = pl.lit(TOP_BIT if tag else 0, dtype=pl.UInt64)
    if tag:
        frame = frame.with_columns(pl.col(first) | top)
    keys = free_low_bits(frame[first], frame[second], 0)
    if keys is None:  # two orders share the first hash (about 1 in 40,000 at 30M orders)
        pairs = frame.select(ORDER_KEYS).unique().drop_nulls().with_row_index("_number")
        keyed = frame.join(pairs, on=ORDER_KEYS, how="left", nulls_equal=False)
        keys = keyed.select(pl.col("_number").cast(pl.UInt64) | top)["_number"]
        frame = keyed.drop("_number")
    return frame.with_columns(keys.alias(name)).drop(ORDER_KEYS)


def group_columns(keys: Sequence[str]) -> list[str]:
    """The columns of a kept row besides its revenue."""
    return [*keys, CUSTOMER, "day", "revenue_day", "is_purchase"]


@reads_table
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
    orders: bool = False,
    pieces: bool = False,
) -> Loaded:
    """``frames.load_orders`` and ``events.classify`` in one streaming pass (see the
    module doc). ``batch_rows``: rows per batch of the decimal-mark pass and per chunk
    of the streaming engine (tests use a few, to split every order).

    The frame holds the classified rows summed (see ``_Reader._summed``), with
    the columns the period metrics read:
    ``keys..., customer_id, day, revenue_day, is_purchase, revenue[, amount]``
    (``amount``, when the input has amounts, is a column of nulls: its presence is
    all that the metrics at this level read). ``revenue=False`` (retention): only
    purchase rows, ``keys..., customer_id, day, is_purchase``.
    ``anonymous``: ``customer_id`` is the ``UInt64`` key of
    :func:`retcalc.kernels.keys.encode_customers` rather than the id (for commands
    that never show an id); when two ids share a key the input is read again with
    the ids. ``orders`` (:class:`retcalc.engines.Level` ``orders``: order counts):
    the rows are summed apart per order, ``order_id`` a ``UInt64`` key per order
    id, and a line without an order id stays a row of its own. ``pieces``
    (:class:`retcalc.engines.Level` ``pieces``: the returns metrics): the lines summed
    into :func:`retcalc.metrics.returns.line_pieces` instead (see :class:`_PiecesReader`).
    """
    rows = batch_rows or BATCH_ROWS
    plan = plan_orders(spec, options, need_amount=need_amount, dimensions=dimensions, table=table)
    table = plan.table
    if plan.order_level:
        # Values written per order count on each order's first line, wherever its other
        # lines are: that needs every line at once, so such inputs are read in memory.
        return load_orders(
            spec, options, need_amount=need_amount, dimensions=dimensions, table=table
        )
    per_row = row_checks(table)
    blank = per_row[0]
    guessed = _guess_marks(plan, blank, min(rows, SAMPLE_ROWS))
    drop = None
    repeats = None
    if options.dedupe:
        hashes = collect(table, table.scan.filter(~blank).select(pl.col(ROW), per_row[1]))
        repeats = repeated_rows(table, hashes)
        drop = repeats[ROW]
    keys = [d for d in dimensions if d != CUSTOMER and d in _dimension_names(plan)]
    new_reader = (
        functools.partial(_PiecesReader, plan, options, keys)
        if pieces
        else functools.partial(
            _Reader, plan, options, keys, anonymous=anonymous, revenue=revenue, orders=orders
        )
    )
    reader = new_reader()
    query = with_date_flags(table.scan.select(pl.col(ROW), *plan.columns, *per_row))
    with pl.Config(streaming_chunk_size=batch_rows):
        reader.read(query, drop, rows)
        mark_error = _settle_marks(plan, reader.evidence)
        if mark_error is None and plan.numbers.marks != guessed:
            # The first rows misled (their values read the same with either mark): read
            # every row again with the marks that all of them tell.
            reader = new_reader()
            reader.read(query, drop, rows)
        if not reader.days_suffice():
            # A blank row has no order id: the pass for donors need not read every column.
            donors = with_date_flags(
                table.scan.select(pl.col(ROW), *plan.columns, pl.lit(False).alias("_blank"))
            )
            reader.read_donors(donors, drop)
    if reader.ragged.row is not None:
        raise ragged_error(table, reader.ragged.row, reader.ragged.count)
    if repeats is None:
        repeats = reader.repeats(table, per_row[1], blank)
    reader.refuse(mark_error)
    for canonical, tally in reader.money.items():
        if tally.row is not None:
            raise checks.money_refused(table, plan.mapping, canonical, tally.count, row=tally.row)
    ids = id_forms_warning(table, plan.mapping.get(CUSTOMER) or "")
    empty = checks.empty_amount_said(
        table, plan.mapping, reader.empty.row, reader.empty.count, strict=options.strict
    )
    warnings = [*plan.warnings, *plan.status_warnings, *ids, *empty, *reader.warnings(repeats)]
    repeated = repeats.height if options.dedupe else 0
    counts = checks.row_counts(
        reader.no_date + reader.no_id + reader.kept + repeated,
        reader.kept - reader.other_currency,
        repeated=repeated,
        no_date=reader.no_date,
        no_id=reader.no_id,
        currency=reader.other_currency,
    )
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
            orders=orders,
            pieces=pieces,
        )
    level = Level.pieces if pieces else Level.orders if orders else Level.days
    return Loaded(
        table,
        plan.mapping,
        frame,
        plan.formats,
        warnings,
        plan.numbers.marks,
        repeats.height,
        holds=Holds(level, keyed=anonymous and not pieces, orders_keyed=orders),
        rows=counts,
    )


def _dimension_names(plan: OrdersPlan) -> set[str]:
    return {e.meta.output_name() for e in plan.columns}
