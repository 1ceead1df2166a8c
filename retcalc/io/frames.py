"""Turning an opened table into retcalc's canonical orders and customers frames.

Every value is parsed here, once; an unreadable value stops the run with a
message naming the file, the column, the line and the value (SPEC §5). Reading
also refuses lines with more fields than the header, dates far in the future
(or before 1900: typos that would stretch the period grid over centuries),
and reports rows that repeat an earlier row exactly (``--dedupe`` drops them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from retcalc.engines import Holds
from retcalc.errors import InputError
from retcalc.io import checks, currency, dates, numbers
from retcalc.io.checks import AHEAD, EXACT_FLOAT, date_limits, unknown_statuses
from retcalc.io.dimensions import check_by
from retcalc.io.load import ROW, Table, collect, open_table, reads_table, twin_name
from retcalc.io.mapping import EXPORTS, ColumnMap, config_columns, require, resolve
from retcalc.io.numbers import DecimalMark, clean_number
from retcalc.meanings import (
    MEANING,
    Census,
    StatusTable,
    captured_expr,
    census,
    config_statuses,
    meaning_expr,
    with_captured,
)
from retcalc.schema import Kind

__all__ = [
    "LoadOptions",
    "Loaded",
    "clean_id",
    "clean_id_columns",
    "clean_ids",
    "clean_number",
    "cleaned_id",
    "input_paths",
    "load_customers",
    "load_orders",
]

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class LoadOptions:
    """How to read inputs: column flags per kind, config, date format, encoding, export,
    time zone, decimal mark, duplicate handling and the day the run is about."""

    order_flags: Mapping[str, str | None] = field(default_factory=dict)
    customer_flags: Mapping[str, str | None] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    date_style: dates.Style | None = None
    encoding: str = "utf8"
    source: str | None = None
    tz: str | None = None
    decimal: DecimalMark | None = None
    dedupe: bool = False
    as_of: dt.date | None = None
    today: dt.date | None = None  # for tests; default: the system date
    status_map: Mapping[str, str] = field(default_factory=dict)  # --status-map, parsed
    strict: bool = False  # refuse statuses no table knows
    amount_level: str = "auto"  # line: never read an amount as the order's total

    def status_table(self, layout: str | None) -> StatusTable:
        """The status words of this run: --status-map, then the config's, then the layout's."""
        return StatusTable({**config_statuses(self.config), **self.status_map}, layout)

    money: currency.MoneyOptions = field(default_factory=currency.MoneyOptions)

    @property
    def latest_date(self) -> dt.date:
        """The last date a value may have: a year after today (or after --as-of)."""
        base = self.today or dt.date.today()
        if self.as_of is not None and self.as_of > base:
            base = self.as_of
        return base + AHEAD


@dataclass
class Loaded:
    """A canonical frame and what was learnt while reading it."""

    table: Table
    mapping: ColumnMap
    frame: pl.DataFrame
    date_formats: dict[str, dates.DateFormat]
    warnings: list[str]
    decimal_marks: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    statuses: Census | None = None  # the raw statuses and their meanings
    order_level: tuple[str, ...] = ()  # columns counted once per order (see once_per_order)
    money: currency.MoneyPlan = field(default_factory=currency.MoneyPlan)
    holds: Holds = field(default_factory=Holds)  # what ``frame``'s rows are
    #: The rows left on Spark (:class:`retcalc.engines.spark.partials.Remote`); ``frame``
    #: is then empty, with their columns.
    remote: Any = None
    rows: checks.RowCounts | None = None  # None where no reader counted them

    @property
    def name(self) -> str:
        return self.table.name


#: Ids that stand for no one (any case, trimmed): guest checkouts and export fillers.
PLACEHOLDER_IDS: tuple[str, ...] = (
    "guest",
    "n/a",
    "na",
    "none",
    "null",
    "-",
    "unknown",
    "anonymous",
)
_PLACEHOLDER_RE = "(?i)^(?:" + "|".join(re.escape(p) for p in PLACEHOLDER_IDS) + ")$"


#: Characters that show as nothing: zero-width space, non-joiner and joiner, the
#: byte-order mark (zero-width no-break space) and the word joiner.
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u2060"


def one_form(text: pl.Expr) -> pl.Expr:
    """Text in one Unicode form: zero-width characters removed, then NFKC (``José``
    composed or decomposed is one text, fullwidth ``ABC123`` (U+FF21...) is ``ABC123``).
    ASCII text is left as it is."""
    # Polars computes both branches of a when over every row: the Unicode work gets only
    # the values beyond ASCII (the others null), so ASCII ids cost next to nothing.
    odd = beyond_ascii(text)
    only = pl.when(odd).then(text)
    formed = only.str.replace_all(f"[{ZERO_WIDTH}]", "").str.normalize("NFKC")
    return pl.when(odd).then(formed).otherwise(text)


def _tidy_id(text: pl.Expr) -> pl.Expr:
    """The id rules besides the Unicode form (see :func:`clean_id`)."""
    text = text.str.strip_chars().str.strip_prefix("'").str.strip_chars()
    text = text.str.replace(r"^(\d+)\.0+$", "${1}")
    text = (
        pl.when(text.str.contains("@", literal=True)).then(text.str.to_lowercase()).otherwise(text)
    )
    no_one = numbers.is_missing(text) | text.str.contains(_PLACEHOLDER_RE)
    return pl.when(no_one).then(None).otherwise(text)


def clean_id(raw: pl.Expr) -> pl.Expr:
    """An identifier as text: in one Unicode form (:func:`one_form`), trimmed, without
    Shopify's leading apostrophe or a float's ``.0``, an email in lower case
    (``Bob@Example.com`` is ``bob@example.com``).

    Missing markers (``NULL``, ``nan``, ``None``, ``\\N``, see ``numbers.MISSING``) and
    placeholders (:data:`PLACEHOLDER_IDS`: ``Guest``, ``N/A``, ``-``, ``unknown``...)
    are no id at all.
    """
    return _tidy_id(one_form(raw.cast(pl.String)))


#: A value that ``clean_id`` may change: whitespace or an apostrophe at an end, a float's
#: ``.0``, a long placeholder, an email with capitals, or a short value that may be a
#: missing marker or placeholder (every other one has at most 4 bytes). Values with
#: bytes beyond ASCII (whose Unicode form may change) are found apart, by length.
_MAYBE_UNCLEAN = r"^[\s']|\s$|\.0+$|(?i)^(?:guest|unknown|anonymous)$|[A-Z][^@]*@|@.*[A-Z]"


def clean_ids(values: pl.Series) -> pl.Series:
    """``clean_id`` on a collected column, paying only for the values that need it.

    Export ids are almost always clean already; a cheap scan finds the few that
    are not (or may be missing markers) and only those go through ``clean_id``.
    """
    text = values.cast(pl.String).rename(values.name)
    maybe = text.to_frame("v").select(maybe_unclean_or_short(pl.col("v")))["v"]
    count = int(maybe.sum())
    if count == 0:
        return text
    if count > text.len() // 4:
        return text.to_frame("v").select(clean_id(pl.col("v")).alias(values.name)).to_series()
    where = maybe.arg_true()
    fixed = text.gather(where).to_frame("v").select(clean_id(pl.col("v")).alias("v"))["v"]
    return text.scatter(where, fixed).rename(values.name)


def cleaned_id(raw: pl.Expr) -> pl.Expr:
    """``clean_id`` in a lazy query: only values that may need it go through it."""
    text = raw.cast(pl.String)
    maybe = maybe_unclean_or_short(text)
    # Both branches are computed over every row: the cleaning gets only the values that
    # may need it (the others null).
    return pl.when(maybe).then(clean_id(pl.when(maybe).then(text))).otherwise(text)


def clean_id_columns(frame: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """:func:`clean_ids` on columns of a lazy query (for the streaming engine)."""
    return frame.with_columns(cleaned_id(pl.col(c)).alias(c) for c in columns)


def maybe_unclean_or_short(raw: pl.Expr) -> pl.Expr:
    """False where ``clean_id`` leaves an id as it is (true may be either)."""
    text = raw.cast(pl.String)
    size = text.str.len_bytes()
    beyond_ascii = size != text.str.len_chars()
    return (text.str.contains(_MAYBE_UNCLEAN) | (size <= 4) | beyond_ascii).fill_null(False)


def _present(raw: pl.Expr) -> pl.Expr:
    return ~numbers.is_missing(raw)


def _first_bad(
    table: Table, frame: pl.DataFrame, flag: str, source: str, canonical: str, expected: str
) -> None:
    bad = frame.filter(pl.col(flag)).select(ROW).head(1)
    if bad.height == 0:
        return
    count = int(frame[flag].sum())
    raise checks.unreadable_at(table, int(bad.item()), count, source, canonical, expected)


# Numbers.


@dataclass(frozen=True)
class _Number:
    canonical: str
    source: str
    native: bool  # a numeric (Parquet) column


class _Numbers:
    """The number columns of one input: read both ways, then one mark chosen per column."""

    def __init__(self, table: Table, sources: Mapping[str, str], forced: DecimalMark | None):
        schema = table.frame.collect_schema()
        self.table = table
        self.forced = forced
        self.items = [
            _Number(canonical, source, schema[source].is_numeric())
            for canonical, source in sources.items()
        ]
        self.dtypes = {source: schema[source] for source in sources.values()}
        self.marks: dict[str, str] = {}

    def exprs(self) -> list[pl.Expr]:
        """What to read: the float of a numeric column, else the text (parsed in finish)."""
        out: list[pl.Expr] = []
        for item in self.items:
            raw = pl.col(item.source)
            if item.native:
                value = numbers.native(raw, self.dtypes[item.source])
                out.append(value.alias(item.canonical))
                out.append(value.is_infinite().fill_null(False).alias(f"_bad_{item.canonical}"))
            else:
                out.append(raw.cast(pl.String).alias(f"_text_{item.canonical}"))
        return out

    @property
    def text_items(self) -> list[_Number]:
        return [i for i in self.items if not i.native]

    def readings(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace each ``_text_`` column by its missing flag and both readings."""
        for item in self.text_items:
            raw = frame[f"_text_{item.canonical}"]
            both = numbers.readings(raw)
            frame = frame.with_columns(
                raw.to_frame("t")
                .select(numbers.is_missing(pl.col("t")))["t"]
                .alias(f"_missing_{item.canonical}"),
                both["point"].alias(f"_point_{item.canonical}"),
                both["comma"].alias(f"_comma_{item.canonical}"),
            ).drop(f"_text_{item.canonical}")
        return frame

    def lazy_readings(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """:meth:`readings` as a lazy query (for the streaming engine): plain values are
        read the cheap way, only the others (rare) through ``numbers.shape``."""
        for item in self.text_items:
            c = item.canonical
            raw = pl.col(f"_text_{c}")
            text = raw.str.strip_chars()
            plain, shaped = pl.col(f"_plain_{c}"), pl.col(f"_shape_{c}")
            point, comma = numbers.plain_readings(text, plain)
            frame = (
                frame.with_columns(
                    numbers.is_missing(raw).alias(f"_missing_{c}"),
                    numbers.is_plain(text).alias(f"_plain_{c}"),
                )
                .with_columns(
                    pl.when(~plain & text.is_not_null())
                    .then(numbers.shape(text))
                    .alias(f"_shape_{c}")
                )
                .with_columns(
                    pl.when(plain)
                    .then(point)
                    .otherwise(numbers.point_from(shaped))
                    .alias(f"_point_{c}"),
                    pl.when(plain)
                    .then(comma)
                    .otherwise(numbers.comma_from(shaped))
                    .alias(f"_comma_{c}"),
                )
                .drop(f"_text_{c}", f"_plain_{c}", f"_shape_{c}")
            )
        return frame

    def evidence(self, frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
        """Per text column, the first row of each kind of value (see ``_evidence``);
        ``frame`` has the columns of :meth:`readings`."""
        return {i.canonical: self._evidence(frame, i) for i in self.text_items}

    @staticmethod
    def first_of_kinds(values: pl.DataFrame) -> dict[str, int | None]:
        """The first row of each kind of value (see :func:`evidence_kinds`) among
        ``values``: texts of a number column (``text``), each with a row holding it (``ROW``)."""
        both = numbers.readings(values["text"]).with_columns(values[ROW])
        kinds = evidence_kinds(pl.col("point"), pl.col("comma"))
        return both.select(
            pl.col(ROW).filter(flag).min().alias(kind) for kind, flag in kinds.items()
        ).row(0, named=True)

    def decide(self, evidence: Mapping[str, dict[str, Any]]) -> None:
        """Choose each text column's mark from the evidence of every row (or refuse)."""
        clear = {e["mark"] for e in evidence.values() if e["mark"] is not None}
        for item in self.text_items:
            self.marks[item.canonical] = self._mark(item, evidence[item.canonical], clear).value

    def apply(self, frame: _Frame) -> _Frame:
        """One float column and one ``_bad_`` flag per text column, read with its mark."""
        for item in self.text_items:
            chosen = pl.col(
                f"_point_{item.canonical}"
                if self.marks[item.canonical] == DecimalMark.point.value
                else f"_comma_{item.canonical}"
            )
            missing = pl.col(f"_missing_{item.canonical}")
            frame = frame.with_columns(
                pl.when(missing).then(None).otherwise(chosen).alias(item.canonical),
                (~missing & chosen.is_null()).alias(f"_bad_{item.canonical}"),
            ).drop(
                f"_point_{item.canonical}", f"_comma_{item.canonical}", f"_missing_{item.canonical}"
            )
        return frame

    def expected(self, item: _Number) -> str:
        """What a value of ``item`` should look like, for the error message."""
        return checks.number_expected(native=item.native, mark=self.marks.get(item.canonical, "."))

    def finish(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Choose each column's mark, stop at the first unreadable value, keep one float column."""
        frame = self.readings(frame)
        self.decide(self.evidence(frame))
        frame = self.apply(frame)
        for item in self.items:
            _first_bad(
                self.table,
                frame,
                f"_bad_{item.canonical}",
                item.source,
                item.canonical,
                self.expected(item),
            )
        return frame.drop([f"_bad_{i.canonical}" for i in self.items])

    def _evidence(self, frame: pl.DataFrame, item: _Number) -> dict[str, Any]:
        c = item.canonical
        kinds = evidence_kinds(pl.col(f"_point_{c}"), pl.col(f"_comma_{c}"))
        flags = frame.select(pl.col(ROW), *(flag.alias(kind) for kind, flag in kinds.items()))
        first: dict[str, int | None] = {}
        for name in ("point", "comma", "either"):
            rows = flags.filter(pl.col(name)).select(ROW).head(1)
            first[name] = int(rows.item()) if rows.height else None
        return with_mark(first)

    def _mark(self, item: _Number, found: dict[str, Any], clear: set[DecimalMark]) -> DecimalMark:
        if self.forced is not None:
            return self.forced
        if found["point"] is not None and found["comma"] is not None:
            raise checks.mixed_marks(
                self.table, item.source, item.canonical, found["point"], found["comma"]
            )
        if found["mark"] is not None:
            return DecimalMark(found["mark"])
        if found["either"] is None:
            return DecimalMark.point  # every value reads the same both ways
        if len(clear) == 1:
            return next(iter(clear))  # the file's other number columns tell
        row = found["either"]
        value = checks.value_at(self.table, row, item.source)
        both = pl.select(
            numbers.point_reading(pl.lit(value)).alias("p"),
            numbers.comma_reading(pl.lit(value)).alias("c"),
        ).row(0)
        raise checks.ambiguous_mark(self.table, item.source, item.canonical, row, value, both)


def evidence_kinds(point: pl.Expr, comma: pl.Expr) -> dict[str, pl.Expr]:
    """True on a value that reads only with a point, only with a comma, and differently
    each way, from its two readings (see ``numbers.readings``)."""
    return {
        "point": point.is_not_null() & comma.is_null(),
        "comma": comma.is_not_null() & point.is_null(),
        "either": point.is_not_null() & comma.is_not_null() & (point != comma),
    }


def with_mark(first: Mapping[str, int | None]) -> dict[str, Any]:
    """The first rows of a column's values that read only with a point, only with a
    comma, and differently each way, plus the mark they settle (None: they do not)."""
    mark = None
    if first["point"] is not None and first["comma"] is None:
        mark = DecimalMark.point
    elif first["comma"] is not None and first["point"] is None:
        mark = DecimalMark.comma
    return {"mark": mark, **first}


# Dates.


def _date_columns(
    table: Table, mapping: ColumnMap, names: Sequence[str], style: dates.Style | None
) -> dict[str, dates.DateFormat]:
    found: dict[str, dates.DateFormat] = {}
    export = next((e for e in EXPORTS if e.name == mapping.export), None)
    reason = "--date-format"
    if style is None and export is not None and export.date_order is not None:
        style = dates.style_from_flag(export.date_order)
        reason = f"{export.name} exports write dates {export.date_order}"
    for canonical in names:
        source = mapping.get(canonical)
        if source is None:
            continue
        if style is not None:
            found[canonical] = dates.DateFormat(style, reason)
        else:
            found[canonical] = dates.detect_style(
                table.frame,
                source,
                where=f"{table.name}: column {source!r} ({canonical})",
                optional=canonical != "order_date",
            )
    return found


#: Prefix of the column of :func:`date_with_presence` that :func:`with_date_flags` replaces.
PRESENT = "_present_"


def date_with_presence(
    table: Table, canonical: str, source: str, fmt: dates.DateFormat, tz: str | None
) -> list[pl.Expr]:
    """The parsed date (named ``canonical``) and whether the cell holds a value
    (``PRESENT`` + ``canonical``), which :func:`with_date_flags` then turns into the flag
    of unreadable values. Two steps parse each date once: the streaming engine does
    not share one parse between two expressions of a select."""
    raw = pl.col(source)
    dtype = table.frame.collect_schema()[source]
    day = dates.parse_expr(raw, fmt.style, tz=tz, utc=dates.header_says_utc(source), dtype=dtype)
    # A date or datetime column holds no missing markers: only null is missing.
    present = raw.is_not_null() if dtype.is_temporal() else _present(raw)
    return [day.alias(canonical), present.alias(f"{PRESENT}{canonical}")]


def with_date_flags(frame: _Frame) -> _Frame:
    """``frame`` with each ``PRESENT`` column of :func:`date_with_presence` replaced by the
    ``_bad_`` flag of its date: a value is there and does not read as a date."""
    names = [c for c in frame.collect_schema().names() if c.startswith(PRESENT)]
    flags = [
        (pl.col(c) & pl.col(c[len(PRESENT) :]).is_null()).alias(f"_bad_{c[len(PRESENT) :]}")
        for c in names
    ]
    return frame.with_columns(flags).drop(names) if names else frame


def check_date_range(
    table: Table,
    frame: pl.DataFrame,
    column: str,
    source: str,
    canonical: str,
    latest: dt.date,
) -> None:
    """Refuse dates after ``latest`` or before 1900, naming the first and counting the rest."""
    for label, condition in date_limits(column, latest):
        bad = frame.filter(condition).select(ROW)
        if bad.height:
            first = int(bad[ROW][0])
            raise checks.out_of_range_at(table, first, bad.height, source, canonical, label)


# Reading the rows.


#: Rows of more columns than this are hashed as one struct (see :func:`row_hash`).
HASHED_APART = 64


def row_hash(columns: Sequence[pl.Expr]) -> pl.Expr:
    """A 64-bit hash of a whole row; rows with equal hashes are compared value by value
    before any is called a repeat.

    Up to :data:`HASHED_APART` columns: each column's hash (its own seed), combined
    pairwise with an odd multiplier in a balanced tree, cheaper than hashing a struct
    of the row. A wider row is hashed as one struct: an expression per column costs
    Polars' planner more than the hashing itself (bench/README.md, wide files).
    """
    if len(columns) > HASHED_APART:
        return pl.struct(columns).hash(7)
    level = [column.hash(7 + i) for i, column in enumerate(columns)]
    while len(level) > 1:
        paired = [
            (left * pl.lit(0x9E3779B97F4A7C15, dtype=pl.UInt64)) ^ right
            for left, right in zip(level[::2], level[1::2], strict=False)
        ]
        level = paired + level[len(paired) * 2 :]
    return level[0]


def blank_row(columns: Sequence[str]) -> pl.Expr:
    """True on a row whose every cell is empty (null)."""
    return pl.all_horizontal(pl.col(list(columns)).is_null())


def row_checks(table: Table) -> list[pl.Expr]:
    """``_blank``, ``_hash`` (of the whole row) and, for CSV with a line longer than the
    header, ``_ragged``: what :func:`read_rows` reads besides the columns."""
    exprs = [
        blank_row(table.columns).alias("_blank"),
        row_hash([pl.col(c) for c in table.columns]).alias("_hash"),
    ]
    extras = table.extra_columns
    if extras:
        exprs.append(
            pl.any_horizontal(
                (pl.col(e).str.strip_chars() != "").fill_null(False) for e in extras
            ).alias("_ragged")
        )
    return exprs


def ragged_error(table: Table, row: int, count: int) -> InputError:
    """:func:`checks.ragged` for ``count`` lines, the first on data row ``row``."""
    return checks.ragged(table.name, len(table.columns), count, table.location(row))


def repeated_rows(table: Table, hashes: pl.DataFrame) -> pl.DataFrame:
    """``ROW`` and ``_original`` of each row that repeats an earlier row exactly, in row
    order; ``hashes`` has ``ROW`` and ``_hash`` of every non-blank row."""
    none = pl.DataFrame(schema={ROW: hashes.schema[ROW], "_original": hashes.schema[ROW]})
    if hashes["_hash"].n_unique() == hashes.height:
        return none  # the common case, found several times faster than is_duplicated
    candidates = hashes.filter(pl.col("_hash").is_duplicated()).select(ROW)
    if candidates.height == 0:
        return none
    rows = collect(
        table,
        table.frame.filter(pl.col(ROW).is_in(candidates[ROW].implode())).select(
            ROW, *table.columns
        ),
    ).sort(ROW)
    return (
        rows.with_columns(pl.col(ROW).min().over(table.columns).alias("_original"))
        .filter(pl.col(ROW) != pl.col("_original"))
        .select(ROW, "_original")
    )


def repeat_warning(table: Table, repeats: pl.DataFrame, *, dedupe: bool) -> str:
    """What to say about the rows of :func:`repeated_rows` (not empty)."""
    example = checks.repeat_example(table, *repeats.row(0))
    return checks.repeat_warning(table.name, repeats.height, example, dedupe=dedupe)


def read_rows(
    table: Table, columns: Sequence[pl.Expr], *, dedupe: bool
) -> tuple[pl.DataFrame, list[str], int]:
    """Collect ``columns`` (plus ROW) from every non-blank row of ``table``.

    Refuses lines with more fields than the header; reports rows that repeat
    an earlier row exactly, or drops them with ``dedupe``. Returns the frame,
    the warnings and the number of repeated rows.
    """
    query = table.scan.select(pl.col(ROW), *columns, *row_checks(table))
    frame = collect(table, with_date_flags(query))
    if "_ragged" in frame.columns:
        ragged = frame.filter(pl.col("_ragged")).select(ROW)
        if ragged.height:
            raise ragged_error(table, int(ragged[ROW][0]), ragged.height)
        frame = frame.drop("_ragged")
    frame = frame.filter(~pl.col("_blank")).drop("_blank")
    repeats = repeated_rows(table, frame.select(ROW, "_hash"))
    warnings: list[str] = []
    if repeats.height:
        if dedupe:
            frame = frame.filter(~pl.col(ROW).is_in(repeats[ROW].implode()))
        warnings.append(repeat_warning(table, repeats, dedupe=dedupe))
    return frame.drop("_hash"), warnings, repeats.height


#: Rows :func:`require_rows` looks at first.
FIRST_ROWS = 1000


def require_rows(table: Table, what: str) -> None:
    """Refuse an input with a header and no rows (blank lines are no rows)."""
    present = table.frame.filter(~blank_row(table.columns)).head(1)
    # The first rows nearly always settle it: the in-memory engine would read every row.
    for query in (table.frame.head(FIRST_ROWS).filter(~blank_row(table.columns)), present):
        if collect(table, query.select(pl.len())).item():
            return
    raise checks.no_rows(table.name, what)


def _header_warnings(table: Table, mapping: ColumnMap) -> list[str]:
    """A mapped header that appears twice: say which one is used."""
    out = []
    for resolved in mapping.columns.values():
        twin = twin_name(resolved.source, 2)
        if twin in table.columns:
            out.append(checks.twin_header_warning(table.name, resolved.source, resolved.canonical))
    return out


def _id_warnings(table: Table, source: str) -> list[str]:
    dtype = table.frame.collect_schema()[source]
    if not dtype.is_float():
        return []
    big = collect(table, table.frame.select((pl.col(source).abs() >= EXACT_FLOAT).sum())).item()
    if not big:
        return []
    return [checks.float_ids_warning(table.name, source, big)]


@dataclass
class OrdersPlan:
    """What reading the orders decided before any row was read: the table, its column
    mapping and date formats, the expressions of the canonical columns, and the
    warnings so far."""

    table: Table
    mapping: ColumnMap
    formats: dict[str, dates.DateFormat]
    warnings: list[str]
    columns: list[pl.Expr]
    numbers: _Numbers
    date_source: str
    statuses: Census | None = None
    order_level: tuple[str, ...] = ()  # canonical columns counted once per order
    money: currency.MoneyPlan = field(default_factory=currency.MoneyPlan)
    status_warnings: list[str] = field(default_factory=list)  # unknown statuses


#: An order's total before and after its refunds (Etsy): the refund is the difference.
ADJUSTED = ("gross_total", "adjusted_total")


def refund_from_adjusted(frame: _Frame) -> _Frame:
    """``refund_amount`` from an order's total before and after refunds, where the export
    writes both (Etsy's ``Order Total`` and ``Adjusted Order Total``): the difference, at
    most the row's amount (the totals include shipping and tax, the amount does not), and
    none where the adjusted total is empty (no refund). The same expressions on every path."""
    names = frame.collect_schema().names()
    if not set(ADJUSTED) <= set(names):
        return frame
    before, after = pl.col("gross_total"), pl.col("adjusted_total")
    given_back = (before - after).clip(lower_bound=0.0)
    if "amount" in names:
        given_back = pl.min_horizontal(given_back, pl.col("amount").abs())
    kept = pl.col("refund_amount") if "refund_amount" in names else pl.lit(None, pl.Float64)
    return frame.with_columns(
        pl.when(after.is_not_null()).then(given_back).otherwise(kept).alias("refund_amount")
    )


#: Columns of the rows read when their statuses are counted after reading.
RAW_STATUS = "_raw_status"
CAPTURED = "_captured"


def meanings_of_rows(
    frame: pl.DataFrame, plan: OrdersPlan, options: LoadOptions
) -> tuple[pl.DataFrame, Census | None, list[str]]:
    """The rows with each raw status replaced by its meaning, the census of the statuses
    and what to say of unknown ones (for a plan with ``census_from_rows``)."""
    if RAW_STATUS not in frame.columns:
        return frame, plan.statuses, plan.status_warnings
    counts = frame.group_by(pl.col(RAW_STATUS).alias("status")).len()
    found = census(counts, options.status_table(plan.mapping.export))
    said = unknown_statuses(
        found, name=plan.table.name, column=plan.mapping.get("status") or "", strict=options.strict
    )
    captured = pl.col(CAPTURED) if CAPTURED in frame.columns else None
    meaning = with_captured(meaning_expr(pl.col(RAW_STATUS), found.values), captured)
    frame = (
        frame.with_columns(meaning.alias(RAW_STATUS))
        .rename({RAW_STATUS: "status"})
        .drop(CAPTURED, strict=False)
    )
    return frame, found, said


def plan_orders(
    spec: str,
    options: LoadOptions,
    *,
    need_amount: bool = False,
    dimensions: Sequence[str] = (),
    table: Table | None = None,
    count_statuses: Callable[[str], pl.DataFrame] | None = None,
    census_from_rows: bool = False,
) -> OrdersPlan:
    """Open the orders, map their columns and decide how every value is read.

    ``count_statuses``: given the status column, each distinct raw status and its rows
    (``status``, ``len``), when the caller counts them over more rows than ``table``
    holds (Spark reads a sample).
    ``census_from_rows``: the caller reads every row into memory and counts the statuses
    there (:func:`meanings_of_rows`), instead of a pass over the status column here."""
    table = table or open_table(spec, encoding=options.encoding)
    mapping = resolve(
        table.columns,
        Kind.orders,
        name=table.name,
        flags=options.order_flags,
        config=config_columns(options.config, Kind.orders),
        source=options.source,
    )
    require(mapping, ["customer_id", "order_date"], table.columns, name=table.name)
    check_by(dimensions, mapping, name=table.name)
    has_amount = "amount" in mapping or ("unit_price" in mapping and "quantity" in mapping)
    if need_amount and not has_amount:
        require(mapping, ["amount"], table.columns, name=table.name)
    require_rows(table, "one row per order or order line")
    formats = _date_columns(table, mapping, ["order_date"], options.date_style)
    warnings: list[str] = [*table.warnings, *_header_warnings(table, mapping)]
    warnings += _id_warnings(table, mapping.get("customer_id") or "")
    first = first_rows(table, mapping)
    warnings += crowded_id_warning(table, mapping.get("customer_id") or "", first)

    def src(canonical: str) -> pl.Expr:
        return pl.col(mapping.get(canonical))  # type: ignore[arg-type]

    date_source = mapping.get("order_date") or ""
    columns: list[pl.Expr] = [
        src("customer_id").cast(pl.String).alias("customer_id"),
        *date_with_presence(table, "day", date_source, formats["order_date"], options.tz),
    ]
    numeric = [
        "amount",
        "quantity",
        "unit_price",
        "refund_amount",
        "returned_quantity",
        *ADJUSTED,
    ]
    number_columns = _Numbers(
        table,
        {c: mapping.get(c) or "" for c in numeric if c in mapping},
        options.decimal,
    )
    columns += number_columns.exprs()
    if "order_id" in mapping:
        columns.append(src("order_id").cast(pl.String).alias("order_id"))
    found: Census | None = None
    status_warnings: list[str] = []
    if census_from_rows and count_statuses is None and "status" in mapping:
        # Counted from the rows once read (load_orders): no pass of its own over the input.
        columns.append(src("status").cast(pl.String).alias(RAW_STATUS))
        if "captured" in mapping:
            columns.append(captured_expr(src("captured")).alias(CAPTURED))
    else:
        source = mapping.get("status")
        counts = count_statuses(source) if count_statuses and source else None
        found = status_census(table, mapping, options, counts)
        if found is not None:
            status_warnings = unknown_statuses(
                found, name=table.name, column=mapping.get("status") or "", strict=options.strict
            )
        status = status_expr(
            mapping.get("status"), found.values if found else None, mapping.get("captured")
        )
        if status is not None:
            columns.append(status.alias("status"))
    level, said = order_level_columns(table, mapping, first)
    if options.amount_level == "line":
        level = ()
    elif said:
        warnings += said
    money = currency.plan_money(table, mapping, options.money, by_currency="currency" in dimensions)
    warnings += money.warnings
    columns += money.columns()
    for dim in dimensions:
        if dim == "customer_id":
            continue  # already there
        if dim == "currency" and money.source is not None:
            columns.append(money.dimension())
            continue
        if dim in mapping:
            columns.append(src(dim).cast(pl.String).str.strip_chars().alias(dim))
        elif dim in table.columns:
            columns.append(pl.col(dim).cast(pl.String).str.strip_chars().alias(dim))
    return OrdersPlan(
        table,
        mapping,
        formats,
        warnings,
        columns,
        number_columns,
        date_source,
        statuses=found,
        order_level=level,
        money=money,
        status_warnings=status_warnings,
    )


def status_census(
    table: Table, mapping: ColumnMap, options: LoadOptions, counts: pl.DataFrame | None = None
) -> Census | None:
    """Every distinct raw status of the input with its rows and meaning (a scan of one
    column, unless ``counts`` has them)."""
    source = mapping.get("status")
    if source is None:
        return None
    if counts is None:
        counts = collect(
            table, table.frame.group_by(pl.col(source).cast(pl.String).alias("status")).len()
        )
    return census(counts, options.status_table(mapping.export))


def status_expr(
    source: str | None, values: Mapping[str, str | None] | None, captured: str | None
) -> pl.Expr | None:
    """Each row's meaning (``retcalc.meanings``) from its status column ``source`` (with
    the census' ``values``) and its ``captured`` column; None when the input has neither."""
    flag = captured_expr(pl.col(captured)) if captured is not None else None
    if source is None:
        if flag is None:
            return None
        return with_captured(pl.lit(None, dtype=MEANING), flag)
    return with_captured(meaning_expr(pl.col(source), values or {}), flag)


#: Rows looked at to tell whether a generic file repeats the order's amount on every line.
ORDER_LEVEL_SAMPLE = 100_000


def order_level_columns(
    table: Table, mapping: ColumnMap, first: pl.DataFrame
) -> tuple[tuple[str, ...], list[str]]:
    """The mapped columns written per order rather than per line, and what to say.

    A recognised export says which of its columns belong to the order. In any other
    file with order ids, an ``amount`` that is the same on every line of each order
    of several lines (at least :data:`MULTI_LINE_ORDERS` such orders among the first
    :data:`ORDER_LEVEL_SAMPLE` rows, the lines differing in something else) is read
    as the order's total repeated per line, and counted once per order (said on
    stderr; ``--amount-level line`` counts it on every line). ``first``: the first rows'
    mapped columns (:func:`first_rows`).
    """
    if "order_id" not in mapping:
        return (), []
    export = next((e for e in EXPORTS if e.name == mapping.export), None)
    if export is not None:
        level = tuple(
            c
            for c in export.order_level
            if c in mapping and mapping.columns[c].reason == f"export:{export.name}"
        )
        return level, []
    if "amount" not in mapping:
        return (), []
    order, amount = mapping.get("order_id") or "", mapping.get("amount") or ""
    # First the amounts alone: in most files some order's lines differ, and that settles it.
    sample = (
        first.filter(pl.col(order).is_not_null())
        .group_by(pl.col(order))
        .agg(
            pl.len().alias("lines"),
            pl.col(amount).cast(pl.String).n_unique().alias("amounts"),
            pl.col(amount).is_null().sum().alias("empty"),
        )
        .filter(pl.col("lines") > 1)
    )
    same = sample.filter((pl.col("amounts") == 1) & (pl.col("empty") == 0))
    if sample.height < MULTI_LINE_ORDERS or same.height < sample.height:
        return (), []
    # Then: do the lines of each order differ in anything else (not exact copies)?
    others = [c for c in table.columns if c not in (order, amount)]
    if not others:
        return (), []
    distinct = collect(
        table,
        table.frame.head(ORDER_LEVEL_SAMPLE)
        .filter(pl.col(order).is_in(sample[order].implode()))
        .group_by(pl.col(order))
        .agg(pl.struct(others).n_unique().alias("rows")),
    )
    if distinct.filter(pl.col("rows") > 1).height < sample.height:
        return (), []
    source = mapping.get("amount")
    return ("amount",), [checks.order_total_warning(table.name, source or "", sample.height)]


#: Orders of several lines needed before a repeated amount is read as an order total.
MULTI_LINE_ORDERS = 3


def once_per_order(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``columns`` kept on the first row (smallest ``ROW``) of each order only (nulls on
    the order's other rows): values the export writes per order count once."""
    if not columns:
        return frame
    first = first_of_order()
    return frame.with_columns(
        pl.when(first).then(pl.col(c)).otherwise(None).alias(c)
        for c in columns
        if c in frame.columns
    )


def first_of_order() -> pl.Expr:
    """True on the first row (smallest ``ROW``) of each order, and on a row without one."""
    return (pl.col(ROW) == pl.col(ROW).min().over("order_id")) | pl.col("order_id").is_null()


#: Column of the rows read: true where the amount (or the unit price, when an amount is
#: made of price times quantity) holds no value: empty, NaN, NULL. Such a row counts as 0.
EMPTY_AMOUNT = "_empty_amount"


def empty_amount(mapping: ColumnMap) -> pl.Expr | None:
    """The :data:`EMPTY_AMOUNT` flag of a row with a customer and a date (after the
    numbers are read); None when the input has no amounts."""
    name = "amount" if "amount" in mapping else "unit_price" if "unit_price" in mapping else None
    if name is None:
        return None
    return (
        pl.col(name).is_null() & pl.col("customer_id").is_not_null() & pl.col("day").is_not_null()
    )


@reads_table
def load_orders(
    spec: str,
    options: LoadOptions,
    *,
    need_amount: bool = False,
    dimensions: Sequence[str] = (),
    table: Table | None = None,
    count_statuses: Callable[[str], pl.DataFrame] | None = None,
) -> Loaded:
    """Read orders into ``customer_id, day, amount, refund_amount, quantity, order_id, status, dims``
    (``count_statuses``: see :func:`plan_orders`)."""
    plan = plan_orders(
        spec,
        options,
        need_amount=need_amount,
        dimensions=dimensions,
        table=table,
        count_statuses=count_statuses,
        census_from_rows=True,
    )
    table, mapping, formats = plan.table, plan.mapping, plan.formats
    columns, number_columns, date_source = plan.columns, plan.numbers, plan.date_source
    frame, repeated, duplicates = read_rows(table, columns, dedupe=options.dedupe)
    read = frame.height + (duplicates if options.dedupe else 0)
    frame, found, said = meanings_of_rows(frame, plan, options)
    warnings = [*plan.warnings, *said]
    warnings += id_forms_warning(table, mapping.get("customer_id") or "", frame["customer_id"])
    frame = frame.with_columns(
        clean_ids(frame[c]) for c in ("customer_id", "order_id") if c in frame.columns
    )
    _first_bad(table, frame, "_bad_day", date_source, "order_date", dates.EXPECTED)
    frame = frame.drop("_bad_day")
    check_date_range(table, frame, "day", date_source, "order_date", options.latest_date)
    frame = once_per_order(number_columns.finish(frame), plan.order_level)
    empty = empty_amount(mapping)
    if empty is not None:
        if {"amount", "unit_price"} & set(plan.order_level):
            empty = empty & first_of_order()
        first, count = frame.select(pl.col(ROW).filter(empty).min(), empty.sum()).row(0)
        warnings += checks.empty_amount_said(table, mapping, first, count, strict=options.strict)
    frame = refund_from_adjusted(plan.money.convert(frame))
    warnings += repeated

    missing_date = frame.filter(pl.col("day").is_null()).height
    if missing_date:
        warnings.append(checks.no_date_warning(table.name, missing_date))
    missing_id = frame.filter(pl.col("customer_id").is_null() & pl.col("day").is_not_null()).height
    if missing_id:
        warnings.append(checks.no_customer_warning(table.name, missing_id))
    frame = frame.filter(pl.col("customer_id").is_not_null() & pl.col("day").is_not_null())
    before_currency = frame.height
    frame = _in_currency(plan, frame)
    counts = checks.row_counts(
        read,
        frame.height,
        repeated=duplicates if options.dedupe else 0,
        no_date=missing_date,
        no_id=missing_id,
        currency=before_currency - frame.height,
    )
    if (
        "amount" not in frame.columns
        and "unit_price" in frame.columns
        and "quantity" in frame.columns
    ):
        frame = frame.with_columns((pl.col("unit_price") * pl.col("quantity")).alias("amount"))
    if "unit_price" in frame.columns:
        frame = frame.drop("unit_price")
    if frame.height == 0:
        raise checks.no_order_rows(table.name)
    check_money(table, mapping, frame)
    return Loaded(
        table,
        mapping,
        frame,
        formats,
        warnings,
        number_columns.marks,
        duplicates,
        statuses=found,
        order_level=plan.order_level,
        money=plan.money,
        rows=counts,
    )


def _in_currency(plan: OrdersPlan, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``--currency`` (all without it), refusing a row before its first
    rate; without the currency module's hidden columns."""
    kept = plan.money.kept()
    if kept is not None:
        frame = frame.filter(kept)
    currency.check_rates(plan.table.name, plan.money, frame, plan.table.location)
    return frame.drop(currency.CODE, currency.NO_RATE, strict=False)


@reads_table
def load_customers(spec: str, options: LoadOptions, *, table: Table | None = None) -> Loaded:
    """Read customers into ``customer_id, signup_date, churn_date, segment, cost_to_serve``."""
    table = table or open_table(spec, encoding=options.encoding)
    mapping = resolve(
        table.columns,
        Kind.customers,
        name=table.name,
        flags=options.customer_flags,
        config=config_columns(options.config, Kind.customers),
    )
    require(mapping, ["customer_id"], table.columns, name=table.name)
    require_rows(table, "one row per customer")
    formats = _date_columns(table, mapping, ["signup_date", "churn_date"], options.date_style)
    warnings: list[str] = [*table.warnings, *_header_warnings(table, mapping)]
    warnings += _id_warnings(table, mapping.get("customer_id") or "")

    def src(canonical: str) -> pl.Expr:
        return pl.col(mapping.get(canonical))  # type: ignore[arg-type]

    columns: list[pl.Expr] = [src("customer_id").cast(pl.String).alias("customer_id")]
    for canonical, fmt in formats.items():
        columns += date_with_presence(
            table, canonical, mapping.get(canonical) or "", fmt, options.tz
        )
    if "segment" in mapping:
        columns.append(src("segment").cast(pl.String).str.strip_chars().alias("segment"))
    number_columns = _Numbers(
        table,
        {"cost_to_serve": mapping.get("cost_to_serve") or ""} if "cost_to_serve" in mapping else {},
        options.decimal,
    )
    columns += number_columns.exprs()
    frame, repeated, duplicates = read_rows(table, columns, dedupe=options.dedupe)
    read = frame.height + (duplicates if options.dedupe else 0)
    warnings += id_forms_warning(table, mapping.get("customer_id") or "", frame["customer_id"])
    frame = frame.with_columns(clean_ids(frame["customer_id"]))
    for canonical in formats:
        source = mapping.get(canonical) or ""
        _first_bad(table, frame, f"_bad_{canonical}", source, canonical, dates.EXPECTED)
        check_date_range(table, frame, canonical, source, canonical, options.latest_date)
    frame = frame.drop([f"_bad_{c}" for c in formats])
    frame = number_columns.finish(frame)
    warnings += repeated
    missing_id = frame.filter(pl.col("customer_id").is_null()).height
    if missing_id:
        warnings.append(checks.no_customer_warning(table.name, missing_id))
    frame = frame.filter(pl.col("customer_id").is_not_null())
    if frame.height == 0:
        raise checks.no_customer_rows(table.name)
    counts = checks.row_counts(
        read, frame.height, repeated=duplicates if options.dedupe else 0, no_id=missing_id
    )
    return Loaded(
        table, mapping, frame, formats, warnings, number_columns.marks, duplicates, rows=counts
    )


def check_money(table: Table, mapping: ColumnMap, frame: pl.DataFrame) -> None:
    """Refuse an amount too large to read exactly, naming its row (``frame`` has ``ROW``)."""
    for canonical, flag in checks.money_limits(frame.columns):
        first, count = frame.select(pl.col(ROW).filter(flag).min(), flag.sum()).row(0)
        if count:
            raise checks.money_refused(table, mapping, canonical, count, row=first)


#: A customer id on at least this share of the rows (and CROWD_RATIO times the next
#: id's), among at least CROWD_CUSTOMERS customers, is more likely a stand-in (a shop's
#: guest account) than one person.
CROWD_SHARE = 0.20
CROWD_RATIO = 3
CROWD_CUSTOMERS = 20


def first_rows(table: Table, mapping: ColumnMap) -> pl.DataFrame:
    """The mapped columns of the first :data:`ORDER_LEVEL_SAMPLE` rows, read once for the
    checks that look at the first rows (the same rows for every reader, so every path
    says the same)."""
    names = sorted({s for c in ("customer_id", "order_id", "amount") if (s := mapping.get(c))})
    return collect(table, table.frame.head(ORDER_LEVEL_SAMPLE).select(names))


def crowded_id_warning(table: Table, source: str, first: pl.DataFrame) -> list[str]:
    """A warning when one customer id holds an implausible share of the first rows
    (``first``: see :func:`first_rows`)."""
    counts = first.group_by(pl.col(source).alias("raw")).len()
    # Only the distinct ids are cleaned (ids that clean to the same one are added up).
    counts = (
        counts.with_columns(clean_ids(counts["raw"]).alias("id"))
        .drop_nulls("id")
        .group_by("id")
        .agg(pl.col("len").sum())
    )
    if counts.height < CROWD_CUSTOMERS:
        return []
    total = int(counts["len"].sum())
    top, second = counts.sort("len", "id", descending=[True, False]).head(2).iter_rows(named=True)
    share = top["len"] / total
    if share < CROWD_SHARE or top["len"] < CROWD_RATIO * second["len"]:
        return []
    return [checks.crowded_warning(table.name, top, share, total)]


def beyond_ascii(text: pl.Expr) -> pl.Expr:
    """True on text with a character beyond ASCII (more bytes than characters)."""
    return text.str.len_bytes() != text.str.len_chars()


def id_forms(raw_ids: pl.Series, *, changed: bool = False) -> pl.DataFrame:
    """``old`` (the id without :func:`one_form`) and ``new`` (:func:`clean_id`) of each
    distinct id of ``raw_ids`` (raw texts); ``changed``: only those its Unicode form changes."""
    raw = pl.col("raw")
    forms = (
        raw_ids.cast(pl.String)
        .rename("raw")
        .unique()
        .to_frame()
        .select(_tidy_id(raw).alias("old"), clean_id(raw).alias("new"))
        .filter(pl.col("new").is_not_null())
    )
    if changed:
        forms = forms.filter(pl.col("old").ne_missing(pl.col("new")))
    return forms.unique()


def unicode_merge_warning(name: str, forms: pl.DataFrame, partners: pl.Series) -> list[str]:
    """A warning counting the customer ids that :func:`one_form` merged with another.

    ``forms``: :func:`id_forms` (``changed``) of the input's distinct ids beyond ASCII;
    ``partners``: the input's distinct raw ids whose :func:`clean_id` is one of
    ``forms``' ``new`` (an ASCII ``ABC123`` beside a fullwidth one).
    """
    if forms.height == 0:
        return []
    every = pl.concat([forms, id_forms(partners)]).unique()
    merged = (
        every.group_by("new")
        .agg(pl.col("old").unique().sort())
        .filter(pl.col("old").list.len() > 1)
        .sort("new")
    )
    if merged.height == 0:
        return []
    first = merged["old"][0].to_list()
    example = " and ".join(_shown(t) for t in first[:2])
    return [checks.unicode_forms_warning(name, merged.height, example)]


def _shown(text: str) -> str:
    """``text`` quoted, with characters beyond ASCII as escapes so that two forms differ."""
    return "'" + text.encode("ascii", "backslashreplace").decode("ascii") + "'"


def id_forms_warning(table: Table, source: str, read: pl.Series | None = None) -> list[str]:
    """:func:`unicode_merge_warning` of column ``source`` of ``table``: the distinct ids
    beyond ASCII, and only when one changes form, its partners. From ``read`` (the raw
    ids of every row, already read) when given, else from scans of the column."""
    if read is not None:
        ids = read.cast(pl.String).rename("raw").to_frame().lazy()
    else:
        ids = table.frame.select(pl.col(source).cast(pl.String).alias("raw"))
    raw = pl.col("raw")
    odd = collect(table, ids.filter(beyond_ascii(raw)).unique())
    forms = id_forms(odd["raw"], changed=True)
    if forms.height == 0:
        return []
    partners = collect(table, ids.filter(cleaned_id(raw).is_in(forms["new"].implode())).unique())
    return unicode_merge_warning(table.name, forms, partners["raw"])


def input_paths(*tables: Table | None) -> list[Path]:
    """Resolved paths of the inputs, for refusing to overwrite them."""
    return [f.resolve() for t in tables if t is not None for f in t.files]
