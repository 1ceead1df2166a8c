"""Currencies and minor units of the orders' money columns (SPEC §1), decided once per input.

Every reader (in memory, streaming, Spark) asks this module for a :class:`MoneyPlan`
before it reads a row, and applies it with the same Polars expressions:

- **Minor units.** A money column (``amount``, ``unit_price``, ``refund_amount``) whose
  header says it holds minor units (``total_cents``, ``amount_in_cents``,
  ``amount_minor``, ...) is divided by 100, said once on stderr; ``--amount-scale X``
  multiplies every money column by X instead (1 keeps units: zero-decimal currencies).
- **Currencies.** The currency column's codes are compared trimmed and upper-cased.
  A cheap scan of that column counts the rows per currency (the census). Rows in more
  than one currency are never summed: exit 2 unless ``--currency CODE`` (keep those
  rows), ``--by currency`` (each group in its own currency) or ``--fx FILE`` with
  ``--report-currency CODE`` (every amount converted, before it becomes integer micros).
- **Rows without a currency.** A line of an order whose other lines carry one currency
  takes it (Shopify writes ``Currency`` on an order's first line only). Otherwise, in a
  file of one currency they take it (with a warning when they carry an amount); in a
  file of several they are an error naming the first.
- **Rates** (``--fx``): a CSV or Parquet file with ``currency``, ``rate`` (units of the
  report currency per unit of ``currency``) and optionally ``date``: a row then uses
  the latest rate of its currency on or before its day, found with ``search_sorted``
  over keys ``(currency, day)`` (an expression, so the same in every reader); a row
  before the first rate of its currency is an error naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import polars as pl

from retcalc.errors import InputError, UsageError, more_such
from retcalc.io import numbers
from retcalc.io.load import ROW, Table, collect
from retcalc.io.mapping import ColumnMap, Resolved
from retcalc.schema import normalize

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)

#: The order columns that hold money.
MONEY_COLUMNS = ("amount", "unit_price", "refund_amount")
#: Hidden column of the rows read: the row's currency code (trimmed, upper-cased, filled).
CODE = "_currency"
#: Hidden flag of the rows read with dated rates: no rate of the row's currency on or
#: before its day (an error; named ``_bad_`` like the readers' other flags).
NO_RATE = "_bad_fx"
#: Normalised headers (see ``schema.normalize``) that say a column holds minor units.
MINOR_UNITS = re.compile(r"(cents|minor|minorunits)$")
#: An amount column that has a currency column of its own (Stripe's converted figures),
#: by normalised header; the plain ``currency`` column goes with every other amount.
PAIRED = {"convertedamount": "convertedcurrency"}
#: Days added to a day number in a rate key, so that every key of one currency is
#: positive and below the next currency's first.
_DAY_OFFSET = 1 << 31


@dataclass(frozen=True)
class MoneyOptions:
    """What the command line asks of the money columns.

    ``mixed``: read every currency as it is and refuse nothing (``inspect``).
    ``census_of``: how to count the rows per currency when the reader cannot scan the
    whole input itself (Spark: its own pass over every row); given the currency,
    customer and amount columns."""

    currency: str | None = None
    fx: str | None = None
    report_currency: str | None = None
    amount_scale: float | None = None
    mixed: bool = False
    census_of: Callable[[str, str, str | None], Census] | None = None


@dataclass(frozen=True)
class Census:
    """Rows (with a customer id) per currency code, and those without a currency:
    ``empty`` of them, ``valued`` of those with an amount, the first one's data row."""

    counts: Mapping[str, int]
    empty: int = 0
    valued: int = 0
    first_empty: int | None = None

    def listed(self, codes: Sequence[str] | None = None) -> str:
        """``EUR (2 rows), USD (5 rows)``."""
        return ", ".join(f"{c} ({_rows(self.counts[c])})" for c in codes or sorted(self.counts))


@dataclass(frozen=True)
class Rates:
    """Exchange rates to the report currency, read from ``--fx`` (see :func:`read_rates`).
    ``days``: each rate's first day as a day number, or ``None`` for constant rates."""

    name: str
    report: str
    codes: tuple[str, ...]
    values: tuple[float, ...]
    days: tuple[int, ...] | None = None

    def first_day(self, code: str) -> dt.date | None:
        if self.days is None:
            return None
        found = [d for c, d in zip(self.codes, self.days, strict=True) if c == code]
        return dt.date(1970, 1, 1) + dt.timedelta(days=min(found)) if found else None


@dataclass(frozen=True)
class MoneyPlan:
    """How one input's money columns are read: scales, the currency kept, the code given
    to rows without one, the rates. Plain values only: Spark ships it to its workers."""

    source: str | None = None  # the currency column
    scales: tuple[tuple[str, float], ...] = ()  # money column -> factor (only those != 1)
    keep: str | None = None  # --currency
    fill: str | None = None  # the code of rows without one (and without their order's)
    order_source: str | None = None  # the order id column, when lines take their order's
    order_codes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # order ids, codes
    rates: Rates | None = None
    warnings: tuple[str, ...] = ()

    @property
    def reads_code(self) -> bool:
        """Whether the rows carry ``CODE`` (for the filter and the rates)."""
        return self.source is not None and (self.keep is not None or self.rates is not None)

    def code(self) -> pl.Expr:
        """The row's currency code, from the raw columns."""
        assert self.source is not None
        found = code(pl.col(self.source))
        if self.order_source is not None:
            ids, codes = self.order_codes
            key = pl.col(self.order_source).cast(pl.String).str.strip_chars()
            found = pl.coalesce(found, key.replace_strict(ids, codes, default=None))
        if self.fill is not None:
            found = found.fill_null(pl.lit(self.fill))
        return found

    def columns(self) -> list[pl.Expr]:
        """What a reader reads besides the canonical columns: ``CODE`` when needed."""
        return [self.code().alias(CODE)] if self.reads_code else []

    def dimension(self) -> pl.Expr:
        """``--by currency``: the code of each row."""
        return self.code().alias("currency")

    def kept(self) -> pl.Expr | None:
        """True on the rows in ``--currency`` (none: every row is kept)."""
        return None if self.keep is None else (pl.col(CODE) == self.keep).fill_null(False)

    def convert(self, frame: _Frame) -> _Frame:
        """The money columns of ``frame`` (floats) scaled and converted (with dated
        rates, ``NO_RATE`` too): the same expressions in every reader."""
        names = frame.collect_schema().names()
        present = [c for c in MONEY_COLUMNS if c in names]
        scales = dict(self.scales)
        rate = self._rate() if self.rates is not None else None
        exprs = []
        for name in present:
            value = _scaled(pl.col(name), scales.get(name, 1.0))
            if rate is not None:
                value = value * rate
            exprs.append(value.alias(name))
        if self.rates is not None and self.rates.days is not None:
            exprs.append(self._no_rate().alias(NO_RATE))
        return frame.with_columns(exprs) if exprs else frame

    def _rate(self) -> pl.Expr:
        rates = self.rates
        assert rates is not None
        if rates.days is None:
            return pl.col(CODE).replace_strict(
                rates.codes, rates.values, default=None, return_dtype=pl.Float64
            )
        index = self._index()
        values = pl.Series(rates.values, dtype=pl.Float64)
        return pl.when(index >= 0).then(pl.lit(values).gather(index.clip(0)))

    def _keys(self) -> tuple[list[str], pl.Series]:
        rates = self.rates
        assert rates is not None and rates.days is not None
        order = sorted(set(rates.codes))
        keys = [_key(order.index(c), d) for c, d in zip(rates.codes, rates.days, strict=True)]
        return order, pl.Series(keys, dtype=pl.Int64)

    def _row_key(self) -> pl.Expr:
        order, _ = self._keys()
        number = pl.col(CODE).replace_strict(
            order, range(len(order)), default=None, return_dtype=pl.Int64
        )
        return number * (1 << 32) + pl.col("day").cast(pl.Int64) + _DAY_OFFSET

    def _index(self) -> pl.Expr:
        """Per row, the index of its rate (rates sorted by key), -1 for none."""
        _, keys = self._keys()
        found = pl.lit(keys).search_sorted(self._row_key(), side="right").cast(pl.Int64) - 1
        return pl.when(~self._no_rate()).then(found).otherwise(-1)

    def _no_rate(self) -> pl.Expr:
        """True on a row with a day and a currency kept, before its currency's first rate."""
        order, keys = self._keys()
        firsts = [int(keys.filter(keys // (1 << 32) == i).min()) for i in range(len(order))]  # type: ignore[arg-type]
        first = pl.col(CODE).replace_strict(order, firsts, default=None, return_dtype=pl.Int64)
        return (self._row_key() < first).fill_null(False)


def _key(number: int, day: int) -> int:
    return number * (1 << 32) + day + _DAY_OFFSET


def _scaled(value: pl.Expr, factor: float) -> pl.Expr:
    """``value * factor``, as a division where ``factor`` is one over a whole number
    (``/ 100`` rather than ``* 0.01``: the nearer float)."""
    if factor == 1.0:
        return value
    inverse = 1 / factor
    if abs(inverse - round(inverse)) < 1e-9 * inverse:
        return value / round(inverse)
    return value * factor


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def code(raw: pl.Expr) -> pl.Expr:
    """A currency code as compared: trimmed and upper-cased; empty or a missing marker
    (``NULL``, ``nan``) is no currency."""
    text = raw.cast(pl.String).str.strip_chars().str.to_uppercase()
    return pl.when(numbers.is_missing(text)).then(None).otherwise(text)


def check_code(value: str, flag: str) -> str:
    """A currency code given on the command line, as compared."""
    found = value.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{2,10}", found):
        raise UsageError(f"{flag} {value!r}: expected a currency code such as USD or EUR")
    return found


# Minor units.


def scales(
    name: str, mapping: ColumnMap, amount_scale: float | None
) -> tuple[dict[str, float], list[str]]:
    """Each money column's factor, and what to say about it: ``--amount-scale`` for
    every money column, else 1/100 for a column whose header says minor units."""
    present = [c for c in MONEY_COLUMNS if c in mapping]
    if amount_scale is not None:
        if not amount_scale > 0:
            raise UsageError(f"--amount-scale {amount_scale:g}: expected a positive number")
        return {c: amount_scale for c in present if amount_scale != 1}, []
    minor = [c for c in present if MINOR_UNITS.search(normalize(mapping.get(c) or ""))]
    if not minor:
        return {}, []
    named = ", ".join(f"column {mapping.get(c)!r} ({c})" for c in minor)
    return {c: 0.01 for c in minor}, [
        f"{name}: {named} {'holds' if len(minor) == 1 else 'hold'} minor units (cents) by "
        f"{'its' if len(minor) == 1 else 'their'} name: divided by 100. "
        "Pass --amount-scale 1 if the values are whole units (e.g. JPY)"
    ]


# Census.


def currency_source(mapping: ColumnMap, headers: Sequence[str]) -> str | None:
    """The currency column, paired with the amount: Stripe's ``Converted Amount`` goes with
    ``Converted Currency``, its ``Amount`` with ``Currency`` (the mapping is updated)."""
    resolved = mapping.columns.get("currency")
    if resolved is None or resolved.reason in ("flag", "config"):
        return resolved.source if resolved else None
    by_norm = {normalize(h): h for h in headers}
    amount = normalize(mapping.get("amount") or "")
    wanted = PAIRED.get(amount)
    if wanted is None and normalize(resolved.source) in PAIRED.values():
        wanted = "currency"
    if wanted is not None and wanted in by_norm and by_norm[wanted] != resolved.source:
        mapping.columns["currency"] = Resolved("currency", by_norm[wanted], resolved.reason)
        return by_norm[wanted]
    return resolved.source


def census_rows(
    frame: _Frame, found: pl.Expr, customer: str, amount: str | None, row: str = ROW
) -> _Frame:
    """Rows with a customer id counted per ``code`` (``found``: the row's code) and
    ``valued`` (an amount is written), with the first row (``row``) of each: the census
    of a frame, or of a part of it."""
    rows = frame.filter(pl.col(customer).is_not_null())
    valued = ~numbers.is_missing(pl.col(amount)) if amount else pl.lit(False)
    return rows.group_by(found.alias("code"), valued.alias("valued")).agg(
        pl.len().alias("n"), pl.col(row).min().alias("first")
    )


def census_from(parts: pl.DataFrame) -> Census:
    """A :class:`Census` from :func:`census_rows` (of one frame, or of parts stacked)."""
    summed = parts.group_by("code", "valued").agg(pl.col("n").sum(), pl.col("first").min())
    counts = summed.filter(pl.col("code").is_not_null()).group_by("code").agg(pl.col("n").sum())
    empty = summed.filter(pl.col("code").is_null())
    first = empty["first"].min() if empty.height else None
    return Census(
        counts={str(c): int(n) for c, n in counts.sort("code").iter_rows()},
        empty=int(empty["n"].sum()),
        valued=int(empty.filter(pl.col("valued"))["n"].sum()),
        first_empty=int(first) if first is not None else None,  # type: ignore[arg-type]
    )


def scan_census(
    table: Table, source: str, customer: str, amount: str | None, found: pl.Expr | None = None
) -> Census:
    """The census of every row of ``table``: a scan of a few columns. ``found``: the row's
    code (default: the currency column's)."""
    found = code(pl.col(source)) if found is None else found
    return census_from(collect(table, census_rows(table.scan, found, customer, amount)))


def order_codes(
    table: Table, source: str, customer: str, order: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The orders with a line without a currency whose other lines carry exactly one,
    and that currency (the raw order id, trimmed, as key)."""
    key = pl.col(order).cast(pl.String).str.strip_chars()
    found = collect(
        table,
        table.scan.filter(pl.col(customer).is_not_null() & key.is_not_null())
        .group_by(key.alias("order"))
        .agg(
            code(pl.col(source)).drop_nulls().unique().alias("codes"),
            code(pl.col(source)).is_null().any().alias("empty"),
        )
        .filter(pl.col("empty") & (pl.col("codes").list.len() == 1))
        .select("order", pl.col("codes").list.first().alias("code")),
    )
    return tuple(found["order"].to_list()), tuple(found["code"].to_list())


# Rates.


def read_rates(path: str, report: str) -> Rates:
    """The ``--fx`` file: ``currency``, ``rate`` (report-currency units per unit), and
    optionally ``date`` (YYYY-MM-DD: the rate holds from that day on)."""
    file = Path(path)
    try:
        head = file.read_bytes()[:4]
        raw = (
            pl.read_parquet(file)
            if head == b"PAR1"
            else pl.read_csv(file, infer_schema=False, encoding="utf8-lossy")
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise UsageError(f"--fx {path}: cannot read it as CSV or Parquet ({exc})") from None
    names = {normalize(c): c for c in raw.columns}
    missing = [c for c in ("currency", "rate") if c not in names]
    if missing:
        raise InputError(
            f"{path}: no {' or '.join(missing)} column; an --fx file has the columns "
            f"currency, rate and optionally date; columns are: {', '.join(raw.columns)}"
        )
    line = "row" if head == b"PAR1" else "line"
    offset = 1 if head == b"PAR1" else 2
    rate_col = pl.col(names["rate"])
    exprs = [
        code(pl.col(names["currency"])).alias("code"),
        (rate_col if raw.schema[names["rate"]].is_numeric() else numbers.point_reading(rate_col))
        .cast(pl.Float64)
        .alias("rate"),
    ]
    dated = "date" in names
    if dated:
        day = pl.col(names["date"])
        if not raw.schema[names["date"]].is_temporal():
            day = day.cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        exprs.append(day.cast(pl.Date).alias("date"))
    frame = raw.select(*exprs).with_row_index("i")
    checks = [
        ("currency", pl.col("code").is_null(), "a currency code such as EUR"),
        ("rate", ~(pl.col("rate") > 0).fill_null(False), "a positive number such as 1.0825"),
    ]
    if dated:
        checks.append(("date", pl.col("date").is_null(), "a date written YYYY-MM-DD"))
    for column, condition, expected in checks:
        bad = frame.filter(condition)
        if bad.height:
            i = int(bad["i"][0])
            value = raw[names[column]][i]
            raise InputError(
                f"{path}: column {names[column]!r}, {line} {i + offset}: cannot read "
                f"{value!r}; expected {expected}{more_such(bad.height)}"
            )
    group = ["code", "date"] if dated else ["code"]
    twice = frame.filter(~pl.struct(group).is_first_distinct())
    if twice.height:
        i = int(twice["i"][0])
        what = " on that date" if dated else ""
        raise InputError(
            f"{path}: {line} {i + offset}: a second rate for {twice['code'][0]}{what}; "
            "give one rate per currency" + (" and date" if dated else "")
        )
    if report not in frame["code"].to_list():
        filler = {"code": [report], "rate": [1.0]}
        if dated:
            filler["date"] = [dt.date(1, 1, 1)]
        frame = pl.concat([frame.drop("i"), pl.DataFrame(filler, schema=frame.drop("i").schema)])
    frame = frame.sort(group)
    days = tuple(frame["date"].cast(pl.Int32).to_list()) if dated else None
    return Rates(
        path,
        report,
        tuple(frame["code"].to_list()),
        tuple(float(v) for v in frame["rate"].to_list()),
        days,
    )


def no_rate_error(
    name: str, source: str, rates: Rates, code_: str, day: dt.date, where: str, count: int
) -> InputError:
    """The error for rows before the first rate of their currency."""
    first = rates.first_day(code_)
    return InputError(
        f"{name}: column {source!r} (currency), {where}: {code_} on {day} has no rate in "
        f"{rates.name} on or before that day (its first rate is on {first}); add an earlier "
        f"rate{more_such(count)}"
    )


def check_rates(
    name: str, plan: MoneyPlan, frame: pl.DataFrame, where: Callable[[int], str]
) -> None:
    """Refuse the rows of ``frame`` (rows kept) flagged ``NO_RATE``, naming the first."""
    if NO_RATE not in frame.columns:
        return
    bad = frame.filter(pl.col(NO_RATE))
    if bad.height == 0:
        return
    first = bad.sort(ROW).row(0, named=True)
    assert plan.rates is not None and plan.source is not None
    raise no_rate_error(
        name, plan.source, plan.rates, first[CODE], first["day"], where(first[ROW]), bad.height
    )


# The decision.


def plan_money(
    table: Table,
    mapping: ColumnMap,
    options: MoneyOptions,
    *,
    by_currency: bool,
) -> MoneyPlan:
    """Decide how the money columns of ``table`` are read (see the module doc)."""
    factors, warnings = scales(table.name, mapping, options.amount_scale)
    scaled = tuple(factors.items())
    source = currency_source(mapping, table.columns)
    keep = check_code(options.currency, "--currency") if options.currency else None
    report = (
        check_code(options.report_currency, "--report-currency")
        if options.report_currency
        else None
    )
    if options.fx and report is None:
        raise UsageError("--fx needs --report-currency CODE: the currency to convert to")
    wants = keep is not None or options.fx is not None or report is not None
    if source is None:
        if wants:
            flag = "--currency" if keep else "--fx" if options.fx else "--report-currency"
            raise InputError(
                f"{table.name}: {flag} needs a currency column and none was found; "
                f"name it with --currency-col; columns are: {', '.join(table.columns)}"
            )
        return MoneyPlan(scales=scaled, warnings=tuple(warnings))
    customer = mapping.get("customer_id") or ""
    if options.census_of is not None:
        census = options.census_of(source, customer, mapping.get("amount"))
    else:
        census = scan_census(table, source, customer, mapping.get("amount"))
    if options.mixed:
        return MoneyPlan(source=source, scales=scaled, warnings=tuple(warnings))
    plan = MoneyPlan(source=source, scales=scaled, keep=keep)
    codes = sorted(census.counts)
    where = f"{table.name}: column {source!r} (currency)"
    if census.empty and len(codes) == 1:
        plan = _replace(plan, fill=codes[0])
        if census.valued:
            warnings.append(
                f"{where}: {_rows(census.valued)} with an amount have no currency; "
                f"counted in {codes[0]}, the file's only currency"
            )
    elif census.empty and len(codes) > 1:
        plan, census = _fill_from_orders(table, mapping, plan, census, where, options)
    if keep is not None:
        if keep not in census.counts:
            raise InputError(
                f"{where}: no row in {keep}; the currencies are {census.listed() or 'none'}"
            )
        others = [c for c in codes if c != keep]
        if others:
            left = sum(census.counts[c] for c in others)
            warnings.append(
                f"{where}: --currency {keep} left out {_rows(left)} in other currencies: "
                f"{census.listed(others)}"
            )
        codes = [keep]
    rates = None
    if options.fx is not None:
        assert report is not None
        rates = read_rates(options.fx, report)
        missing = [c for c in codes if c not in rates.codes]
        if missing:
            raise InputError(
                f"{options.fx}: no rate for {census.listed(missing)} of {table.name}; "
                f"add a row per currency (currency,rate: {report} per unit), or leave them "
                "out with --currency CODE"
            )
    elif report is not None and codes != [report]:
        raise UsageError(
            f"--report-currency {report} needs --fx FILE (rates to {report}): "
            f"{table.name} has {census.listed(codes)}"
        )
    elif len(codes) > 1 and not by_currency:
        raise InputError(
            f"{where}: the rows are in {len(codes)} currencies, {census.listed(codes)}, "
            "and amounts in different currencies are never summed. Pass --currency CODE to "
            "keep the rows of one, --by currency to show each apart, or --fx RATES.csv "
            "--report-currency CODE to convert every amount (rates: currency,rate[,date])"
        )
    return _replace(plan, rates=rates, warnings=tuple(warnings))


def _replace(plan: MoneyPlan, **changes: object) -> MoneyPlan:
    return replace(plan, **changes)  # type: ignore[arg-type]


def _fill_from_orders(
    table: Table,
    mapping: ColumnMap,
    plan: MoneyPlan,
    census: Census,
    where: str,
    options: MoneyOptions,
) -> tuple[MoneyPlan, Census]:
    """In a file of several currencies, lines without one take their order's (counted in
    it from then on); any other row without one is an error naming the first."""
    source = plan.source
    assert source is not None
    customer = mapping.get("customer_id") or ""
    order = mapping.get("order_id")
    left, first = census.empty, census.first_empty
    if order is not None and options.census_of is None:
        ids, codes = order_codes(table, source, customer, order)
        if ids:
            plan = _replace(plan, order_source=order, order_codes=(ids, codes))
            census = scan_census(table, source, customer, mapping.get("amount"), plan.code())
            left, first = census.empty, census.first_empty
    if not left:
        return plan, census
    at = f", {table.location(int(first))}" if first is not None else ""
    lines = " or another line of its order" if order is not None else ""
    raise InputError(
        f"{where}{at}: {_rows(left)} have no currency{lines}, in a file of "
        f"{census.listed()}; fill in the currency of those rows"
        + (" (or use the default engine)" if options.census_of is not None and order else "")
    )


__all__ = [
    "CODE",
    "MONEY_COLUMNS",
    "NO_RATE",
    "Census",
    "MoneyOptions",
    "MoneyPlan",
    "Rates",
]
