"""Reading orders on Spark into the frame the metrics consume (``--engine spark``).

1. Spark opens the input: a CSV or Parquet file, a directory of Parquet files
   (hive ``key=value`` folders become columns), a glob, or a URL Spark reads.
2. The driver takes the first :data:`SAMPLE_ROWS` rows and runs the Polars
   loader (``frames.load_orders``) on them: the same column mapping
   (``mapping.resolve``), required columns, date style and decimal mark
   detection, and the same messages for what is wrong in those rows.
3. Spark parses every row with the same Polars expressions
   (``batches.canonical_rows``), and one aggregation checks them all:
   unreadable values, dates out of range, lines with more fields than the header.
4. Spark classifies and reduces (``batches.reduce_partition``) to the
   :class:`~retcalc.engines.Level` the command needs; the driver collects that
   through Arrow and hands it to the same metric functions as the Polars engine.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import glob
import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import polars as pl

from retcalc.engines import Holds, Level
from retcalc.engines.spark import batches as b
from retcalc.engines.spark.session import size_shuffle
from retcalc.errors import InputError, UsageError, first_line
from retcalc.io import checks, currency, dates
from retcalc.io.checks import EARLIEST, LARGEST_AMOUNT, NO_LINE
from retcalc.io.frames import Loaded, LoadOptions, load_orders
from retcalc.io.load import (
    EXTRA,
    PARQUET_MAGIC,
    PARQUET_SUFFIXES,
    SEPARATORS,
    _finish,
    _no_such_file,
    _sniff_separator,
)
from retcalc.meanings import MEANING

#: Rows the driver reads to map columns and detect the date style and decimal marks.
SAMPLE_ROWS = 20_000


@dataclasses.dataclass(frozen=True)
class Source:
    """What Spark reads: its paths and format, and the local files (never overwritten)."""

    paths: tuple[str, ...]
    kind: str  # "csv" or "parquet"
    files: tuple[Path, ...]
    base: str | None = None  # a directory: hive partitions are found below it


def _is_url(spec: str) -> bool:
    return "://" in spec


def find_source(spec: str) -> Source:
    """Decide what Spark is to read from the argument, refusing what it cannot."""
    if spec == "-":
        raise UsageError(
            "--engine spark reads files, directories, globs or URLs, not standard input; "
            "save the data to a file (or use the default engine)"
        )
    if _is_url(spec) and not spec.startswith("file:"):
        lowered = spec.lower().rstrip("/")
        kind = "csv" if lowered.endswith((".csv", ".tsv", ".txt", ".csv.gz")) else "parquet"
        return Source((spec,), kind, ())
    local = unquote(urlparse(spec).path) if spec.startswith("file:") else spec
    path = Path(local)
    if any(ch in local for ch in "*?[") and not path.exists():
        matches = sorted(Path(m) for m in glob.glob(local, recursive=True) if Path(m).is_file())
        if not matches:
            raise InputError(f"{spec}: no file matches this pattern")
        parquet = [m.suffix.lower() in PARQUET_SUFFIXES for m in matches]
        if all(parquet):
            return Source(tuple(str(m) for m in matches), "parquet", tuple(matches))
        if not any(parquet):
            return Source(tuple(str(m) for m in matches), "csv", tuple(matches))
        raise InputError(f"{spec}: the pattern matches both Parquet and CSV files; pick one kind")
    if not path.exists():
        raise _no_such_file(spec, path)
    if path.is_dir():
        parquet_files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in PARQUET_SUFFIXES
            and p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not parquet_files:
            raise InputError(
                f"{spec}: is a directory with no Parquet files; give a file "
                "(or a glob such as 'exports/*.csv')"
            )
        return Source((str(path),), "parquet", tuple(parquet_files), base=str(path))
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None
    if head.startswith(PARQUET_MAGIC):
        return Source((str(path),), "parquet", (path,))
    if path.suffix.lower() in PARQUET_SUFFIXES:
        raise InputError(f"{spec}: is not a Parquet file (it does not start with PAR1)")
    return Source((str(path),), "csv", (path,))


def _csv_header(spark: Any, paths: Sequence[str], options: dict[str, str]) -> list[str]:
    frame = spark.read.options(**options).option("header", "true").csv(list(paths))
    return list(frame.columns)


def _local_header(path: Path, separator: str, encoding: str) -> tuple[str, ...]:
    """The header row of a local CSV file (gzip too), read without Spark."""
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
            row = next(csv.reader(handle, delimiter=separator), [])
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if row:
        row[0] = row[0].removeprefix("\ufeff")
    return tuple(row)


def _header_groups(
    spark: Any, source: Source, options: dict[str, str], encoding: str
) -> list[tuple[list[str], list[str]]]:
    """``(header, paths)`` per distinct header: Spark applies one header by position to
    every file it reads at once, so files with other columns (or another order) are read
    apart and joined by name, as the default engine does."""
    if len(source.files) <= 1:
        return [(_csv_header(spark, source.paths, options), list(source.paths))]
    groups: dict[tuple[str, ...], list[str]] = {}
    for path in source.files:
        groups.setdefault(_local_header(path, options["sep"], encoding), []).append(str(path))
    return [(list(header), paths) for header, paths in groups.items()]


def _separator(source: Source) -> str:
    if not source.files:
        return ","
    try:
        with source.files[0].open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return ","
    found = _sniff_separator(head)
    return found if found in SEPARATORS else ","


#: Python's names of the encodings Spark's CSV reader takes, and Java's names for them.
CHARSETS = {
    "utf-8": "UTF-8",
    "latin-1": "ISO-8859-1",
    "iso8859-1": "ISO-8859-1",
    "ascii": "US-ASCII",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "utf-32": "UTF-32",
}


def charset(encoding: str) -> str:
    """The Java charset for ``--encoding``, or a refusal naming the ones Spark reads."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"--encoding {encoding!r} is not a known text encoding") from None
    if name not in CHARSETS:
        raise UsageError(
            f"--encoding {encoding}: Spark reads CSV text in UTF-8, latin-1 (ISO-8859-1), "
            "ASCII, UTF-16 or UTF-32; convert the file (iconv -f ... -t utf-8) or use the "
            "default engine"
        )
    return CHARSETS[name]


def read_raw(spark: Any, source: Source, encoding: str, name: str) -> tuple[Any, bool]:
    """The raw rows as a Spark frame with FILE and ID columns (and EXTRA ones for CSV)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    # Rows left on Spark for the executors are cached (``_left_on_spark``): a later read
    # of the same path in this session must see the file as it is now, not those rows.
    for path in source.paths:
        spark.catalog.refreshByPath(path)
    try:
        if source.kind == "parquet":
            reader = spark.read
            if source.base is not None:
                reader = reader.option("basePath", source.base)
            frame = reader.parquet(*source.paths)
            frame = frame.withColumn(b.FILE, F.col("_metadata.file_path"))
        else:
            options = {
                "sep": _separator(source),
                "encoding": charset(encoding),
                "quote": '"',
                "escape": '"',
                "mode": "PERMISSIVE",
            }
            frame = None
            for header, paths in _header_groups(spark, source, options, encoding):
                fields = [T.StructField(c, T.StringType()) for c in header]
                fields += [T.StructField(e, T.StringType()) for e in EXTRA]
                part = (
                    spark.read.options(**options)
                    .option("header", "true")
                    .option("enforceSchema", "true")
                    .schema(T.StructType(fields))
                    .csv(paths)
                    .withColumn(b.FILE, F.col("_metadata.file_path"))
                )
                frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
            if frame is not None:
                # EXTRA columns last, after the columns every group added.
                data = [c for c in frame.columns if c not in (*EXTRA, b.FILE)]
                frame = frame.select(*data, *EXTRA, b.FILE)
    except Exception as exc:
        raise InputError(f"{name}: Spark cannot read it: {first_line(exc)}") from None
    frame = frame.withColumn(b.ID, F.monotonically_increasing_id())
    return frame, source.kind == "csv"


def to_arrow(frame: Any) -> Any:
    """A Spark frame collected as an Arrow table (``toArrow`` is pyspark 4; 3.5 has the batches)."""
    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    import pyarrow as pa

    batches = frame._collect_as_arrow()
    if batches:
        return pa.Table.from_batches(batches)
    return pa.Table.from_batches([], schema=pa.schema([]))  # no rows: the schema does not matter


def _sample_table(raw: Any, name: str, is_csv: bool, files: Sequence[Path]) -> Any:
    """The first rows as a Polars table, for the Polars loader."""
    arrow = to_arrow(raw.drop(b.FILE, b.ID).limit(SAMPLE_ROWS))
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    # _finish numbers the rows and keeps EXTRA columns apart, as the CSV reader does.
    return _finish(name, frame.lazy(), is_csv=is_csv, path=None, files=list(files))


def _status_counts(raw: Any, source: str) -> pl.DataFrame:
    """Each distinct raw status of column ``source`` over every row and its rows
    (``status``, ``len``), counted by Spark: the sample's statuses are not all the file's."""
    from pyspark.sql import functions as F

    counts = raw.groupBy(F.col(f"`{source}`").cast("string").alias("status")).agg(
        F.count(F.lit(1)).alias("len")
    )
    frame = pl.from_arrow(to_arrow(counts))
    assert isinstance(frame, pl.DataFrame)
    return frame


def plan_from(
    sample: Loaded,
    raw_columns: Sequence[str],
    extras: Sequence[str],
    by: Sequence[str],
    options: LoadOptions,
    native: set[str],
) -> b.Plan:
    """The parsing plan for every row, from what the Polars loader learnt on the sample."""
    mapping = sample.mapping
    numbers = tuple(
        b.NumberSpec(
            c,
            mapping.get(c) or "",
            (mapping.get(c) or "") in native,
            sample.decimal_marks.get(c, "."),
        )
        for c in b.NUMBER_COLUMNS
        if c in mapping
    )
    dims: list[tuple[str, str]] = []
    for dim in by:
        if dim == "customer_id":
            continue
        if dim in mapping:
            dims.append((dim, mapping.get(dim) or ""))
        elif dim in raw_columns:
            dims.append((dim, dim))
    return b.Plan(
        money=sample.money,
        raw_columns=tuple(raw_columns),
        extras=tuple(extras),
        customer=mapping.get("customer_id") or "",
        day=mapping.get("order_date") or "",
        day_style=sample.date_formats["order_date"].style,
        tz=options.tz,
        numbers=numbers,
        order_id=mapping.get("order_id") if "order_id" in mapping else None,
        status=mapping.get("status") if "status" in mapping else None,
        dims=tuple(dims),
        status_values=tuple(sample.statuses.values.items()) if sample.statuses else (),
        captured=mapping.get("captured"),
    )


def _census(raw: Any, source: str, customer: str, amount: str | None) -> currency.Census:
    """Rows per currency over every row (``currency.census_rows`` on each batch)."""
    from pyspark.sql import functions as F

    columns = list(dict.fromkeys(c for c in (source, customer, amount) if c))
    schema = {"code": pl.String(), "valued": pl.Boolean(), "n": pl.Int64(), "first": pl.Int64()}
    parts = raw.select(*columns, b.ID).mapInArrow(
        lambda it: b.census_batches(it, source, customer, amount), spark_schema(schema)
    )
    summed = parts.groupBy("code", "valued").agg(F.sum("n").alias("n"), F.lit(None).alias("first"))
    frame = pl.from_arrow(to_arrow(summed))
    assert isinstance(frame, pl.DataFrame)
    return currency.census_from(
        frame.cast({"n": pl.Int64, "first": pl.Int64}).select("code", "valued", "n", "first")
    )


def spark_schema(schema: dict[str, pl.DataType]) -> Any:
    from pyspark.sql import types as T

    kinds = {
        pl.String: T.StringType(),
        pl.Date: T.DateType(),
        pl.Float64: T.DoubleType(),
        pl.Int64: T.LongType(),
        pl.Int128: T.DecimalType(38, 0),  # money in micros: Spark sums it exactly
        pl.Boolean: T.BooleanType(),
    }
    return T.StructType([T.StructField(c, kinds[type(t)]) for c, t in schema.items()])


def _display_file(uri: str | None, fallback: str) -> str:
    if not uri:
        return fallback
    if uri.startswith("file:"):
        path = unquote(urlparse(uri).path)
        try:
            return os.path.relpath(path)
        except ValueError:
            return path
    return uri


def _check(
    rows: Any,
    raw: Any,
    plan: b.Plan,
    name: str,
    latest: Any,
    marks: dict[str, str],
    repeated: int,
) -> tuple[list[str], checks.RowCounts]:
    """One pass over every row: refuse what the Polars loader refuses; return the warnings
    and the rows read, used and dropped (``repeated``: dropped by ``--dedupe`` before).

    The first offending row of each kind is the one with the smallest row id;
    its file is looked up in ``raw`` only when there is one to report.
    """
    from pyspark.sql import functions as F

    def file_of(row_id: int) -> str:
        found = raw.filter(F.col(b.ID) == F.lit(row_id)).select(b.FILE).first()
        return _display_file(found[0] if found else None, name)

    first = F.min_by
    live = ~F.col("_blank")
    ragged = F.col("_ragged")
    aggs = [
        F.sum(ragged.cast("long")).alias("ragged_n"),
        F.min(F.when(ragged, F.col(b.ID))).alias("ragged_id"),
    ]
    columns: list[tuple[str, str, str]] = [("day", plan.day, dates.EXPECTED)]
    for n in plan.numbers:
        expected = checks.number_expected(native=n.native, mark=marks.get(n.canonical, "."))
        columns.append((n.canonical, n.source, expected))
    for canonical, _, _ in columns:
        bad = F.col(f"_bad_{canonical}") & live
        aggs += [
            F.sum(bad.cast("long")).alias(f"{canonical}_n"),
            first(F.col(f"_raw_{canonical}"), F.when(bad, F.col(b.ID))).alias(f"{canonical}_value"),
            F.min(F.when(bad, F.col(b.ID))).alias(f"{canonical}_id"),
        ]
    day = F.col("day")
    ranges = {
        "late": (checks.TOO_LATE, (day > F.lit(latest)) & live),
        "early": (checks.TOO_EARLY, (day < F.lit(EARLIEST)) & live),
    }
    for label, (_, condition) in ranges.items():
        aggs += [
            F.sum(condition.cast("long")).alias(f"{label}_n"),
            first(day.cast("string"), F.when(condition, F.col(b.ID))).alias(f"{label}_value"),
            F.min(F.when(condition, F.col(b.ID))).alias(f"{label}_id"),
        ]
    has_id = F.col("customer_id").isNotNull()
    aggs += [
        F.sum((live & day.isNull()).cast("long")).alias("no_date"),
        F.sum((live & day.isNotNull() & ~has_id).cast("long")).alias("no_id"),
        F.sum((live & day.isNotNull() & has_id).cast("long")).alias("kept"),
    ]
    if plan.money.keep is not None:
        elsewhere = live & day.isNotNull() & has_id & ~F.col(b.IN_CURRENCY)
        aggs.append(F.sum(elsewhere.cast("long")).alias("other_currency"))
    row = rows.agg(*aggs).collect()[0].asDict()
    if row["ragged_n"]:
        raise checks.ragged(file_of(row["ragged_id"]), len(plan.raw_columns), row["ragged_n"])

    def refuse(canonical: str, source: str, label: str, expected: str) -> None:
        count = row[f"{canonical}_n"]
        if count:
            file, value = file_of(row[f"{canonical}_id"]), row[f"{canonical}_value"]
            raise checks.unreadable(file, source, label, NO_LINE, value, expected, count)

    (_, day_source, day_expected), *number_checks = columns
    refuse("day", day_source, "order_date", day_expected)
    for label, (text, _) in ranges.items():
        if row[f"{label}_n"]:
            file, shown = file_of(row[f"{label}_id"]), checks.read_as(row[f"{label}_value"])
            count = row[f"{label}_n"]
            raise checks.out_of_range(file, plan.day, "order_date", NO_LINE, shown, text, count)
    for canonical, source, expected in number_checks:
        refuse(canonical, source, canonical, expected)
    warnings = []
    if row["no_date"]:
        warnings.append(checks.no_date_warning(name, row["no_date"]))
    if row["no_id"]:
        warnings.append(checks.no_customer_warning(name, row["no_id"]))
    if not row["kept"]:
        raise checks.no_order_rows(name)
    other: int = row.get("other_currency") or 0
    counts = checks.row_counts(
        row["no_date"] + row["no_id"] + row["kept"] + repeated,
        row["kept"] - other,
        repeated=repeated,
        no_date=row["no_date"],
        no_id=row["no_id"],
        currency=other,
    )
    return warnings, counts


def load_orders_spark(
    spark: Any,
    spec: str,
    options: LoadOptions,
    *,
    need_amount: bool,
    dimensions: Sequence[str],
    level: Level,
    remote: bool = False,
) -> Loaded:
    """Orders read, checked and reduced on Spark; see the module docstring. ``remote``
    (days or orders level): the reduced rows stay on Spark, partitioned by customer, for a
    metric that runs on the executors (:mod:`.partials`); ``Loaded.remote`` holds them. At
    the lines level (returns), the lines stay there, partitioned by order."""
    from pyspark import StorageLevel

    source = find_source(spec)
    raw, is_csv = read_raw(spark, source, options.encoding, spec)
    size_shuffle(spark, source.files, raw)
    data_columns = [c for c in raw.columns if c not in (b.FILE, b.ID, *EXTRA)]
    extras = [c for c in raw.columns if c in EXTRA]
    table = _sample_table(raw, spec, is_csv, source.files)
    # The currencies of every row, not the sample's, decide (see io.currency).
    census = functools.partial(_census, raw)
    money = dataclasses.replace(options.money, census_of=census)
    sample = load_orders(
        spec,
        dataclasses.replace(options, money=money),
        need_amount=need_amount,
        dimensions=dimensions,
        table=table,
        count_statuses=functools.partial(_status_counts, raw),
    )
    rates = sample.money.rates
    if rates is not None and rates.days is not None:
        raise UsageError(
            f"--fx {rates.name} has rates by date, which --engine spark does not apply yet; "
            "give one rate per currency, or use the default engine"
        )
    native = {
        c
        for c in data_columns
        if c in table.frame.collect_schema() and table.frame.collect_schema()[c].is_numeric()
    }
    plan = plan_from(sample, data_columns, extras, dimensions, options, native)
    # File order tells each order's first line (its order-level values count there).
    plan = dataclasses.replace(plan, with_file=level is Level.lines or bool(sample.order_level))
    if options.dedupe:
        before = raw.count()
        raw = raw.dropDuplicates(data_columns)
        repeated = before - raw.count()
        warnings_dedupe = (
            [checks.repeat_warning(spec, repeated, None, dedupe=True)] if repeated else []
        )
    else:
        repeated, warnings_dedupe = 0, []
    schema = plan.output_schema()
    plan_copy = plan
    source_rows = raw if plan.with_file else raw.drop(b.FILE)
    canonical = source_rows.mapInArrow(
        lambda it: b.canonical_batches(it, plan_copy), spark_schema(schema)
    )
    # Parsed once: the checks and the reduction both read the persisted rows.
    canonical = canonical.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _finish_load(
            spark,
            canonical,
            raw,
            plan,
            sample,
            table,
            source,
            spec,
            options,
            level,
            [*_of_every_row(sample, spec), *warnings_dedupe],
            repeated,
            remote=remote and level in (Level.days, Level.orders, Level.lines),
        )
    finally:
        canonical.unpersist()


def _of_every_row(sample: Loaded, name: str) -> list[str]:
    """The sample's warnings but those of its rows without a date or a customer id: the
    check of every row (:func:`_check`) says those, counted over the whole input."""
    dropped = sample.rows.dropped if sample.rows is not None else {}
    counted = {
        checks.no_date_warning(name, dropped.get(checks.DROPPED_NO_DATE, 0)),
        checks.no_customer_warning(name, dropped.get(checks.DROPPED_NO_ID, 0)),
    }
    return [w for w in sample.warnings if w not in counted]


def _finish_load(
    spark: Any,
    canonical: Any,
    raw: Any,
    plan: b.Plan,
    sample: Loaded,
    table: Any,
    source: Source,
    spec: str,
    options: LoadOptions,
    level: Level,
    warnings: list[str],
    repeated: int,
    *,
    remote: bool,
) -> Loaded:
    from pyspark.sql import functions as F

    found, counts = _check(
        canonical, raw, plan, spec, options.latest_date, sample.decimal_marks, repeated
    )
    warnings += found
    keep = ~F.col("_blank") & F.col("day").isNotNull() & F.col("customer_id").isNotNull()
    if plan.money.keep is not None:
        keep = keep & F.col(b.IN_CURRENCY)
    extra = [b.FILE] if level is Level.lines else []
    rows = _once_per_order(canonical.filter(~F.col("_blank")), sample.order_level)
    rows = rows.filter(keep).select(*plan.canonical_columns(), *extra, b.ID)
    money = [c for c in checks.MONEY_COLUMNS if c in rows.columns]
    if money:
        sizes = [F.abs(F.nanvl(F.col(c), F.lit(None))) for c in money]
        large = [F.sum((size >= F.lit(LARGEST_AMOUNT)).cast("long")) for size in sizes]
        found = rows.agg(*large, *(F.max(size) for size in sizes)).collect()[0]
        for i, canonical in enumerate(money):
            if found[i]:
                raise checks.money_refused(
                    table, sample.mapping, canonical, found[i], value=found[len(money) + i]
                )
    keys = [name for name, _ in plan.dims]
    left = None
    if level is Level.lines and remote:
        from retcalc.engines.spark.returns_remote import lines_left_on_spark

        schema = plan.output_schema()
        lines = {c: schema[c] for c in [*plan.canonical_columns(), b.FILE, b.ID]}
        left = lines_left_on_spark(_by_order(rows, plan), lines, keys, plan.has_amount, options)
        frame = as_lines(pl.DataFrame(schema=lines).drop(b.FILE, b.ID))
    elif level is Level.lines:
        frame = collect_lines(rows)
    else:
        if options.as_of is not None:
            rows = rows.filter(F.col("day") < F.lit(options.as_of))
        rows = _by_order(rows, plan)
        reduced_schema = _reduced_schema(plan, level, keys)
        has_amount = plan.has_amount
        reduced = rows.mapInArrow(
            lambda it: b.reduce_batches(it, level, keys, has_amount=has_amount),
            spark_schema(reduced_schema),
        )
        if remote:
            return _left_on_spark(
                reduced,
                reduced_schema,
                level,
                keys,
                has_amount,
                table,
                source,
                sample,
                warnings,
                counts,
            )
        frame = collect_reduced(reduced, reduced_schema, level, has_amount=has_amount)
    loaded = Loaded(
        dataclasses.replace(table, files=source.files),
        sample.mapping,
        frame,
        sample.date_formats,
        warnings,
        sample.decimal_marks,
        holds=Holds(level),
        rows=counts,
        remote=left,
    )
    return loaded


def _by_order(rows: Any, plan: b.Plan) -> Any:
    """``rows`` partitioned by order id (a row without one anywhere): each partition then
    holds every line of its orders."""
    from pyspark.sql import functions as F

    if plan.order_id is None:
        return rows
    spread = F.coalesce(F.col("order_id"), F.concat(F.lit("\x00"), F.col(b.ID).cast("string")))
    return rows.repartition(spread)


def collect_lines(rows: Any) -> pl.DataFrame:
    """The canonical order lines (with ``FILE`` and ``ID``) on the driver, in file order."""
    frame = pl.from_arrow(to_arrow(rows.orderBy(b.FILE, b.ID).drop(b.FILE, b.ID)))
    assert isinstance(frame, pl.DataFrame)
    return as_lines(frame)


def as_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical order lines from Arrow as the metrics take them: Arrow carries the
    status as text, Polars keeps meanings so."""
    if "status" in frame.columns:
        return frame.with_columns(pl.col("status").cast(MEANING))
    return frame


def collect_reduced(
    reduced: Any, schema: dict[str, pl.DataType], level: Level, *, has_amount: bool
) -> pl.DataFrame:
    """The reduced rows (of ``schema``) on the driver as the metrics' events; at the days
    level summed per customer and day first (a day's rows come from several order
    partitions)."""
    from pyspark.sql import functions as F

    if level is Level.days:
        group = [c for c in schema if c not in ("micros", "amount")]
        sums = [F.sum("micros").alias("micros")]
        if has_amount:
            sums.append(F.sum("amount").alias("amount"))
        reduced = reduced.groupBy(*group).agg(*sums)
    collected = pl.from_arrow(to_arrow(reduced))
    assert isinstance(collected, pl.DataFrame)
    collected = collected.cast({c: t for c, t in schema.items() if c in collected.columns})
    return b.events_frame(collected, level)


def _left_on_spark(
    reduced: Any,
    schema: dict[str, pl.DataType],
    level: Level,
    keys: Sequence[str],
    has_amount: bool,
    table: Any,
    source: Source,
    sample: Loaded,
    warnings: list[str],
    counts: checks.RowCounts,
) -> Loaded:
    """The reduced rows kept on Spark, partitioned by customer (each task then has whole
    customers) and cached; the driver learns only their span of days."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from retcalc.engines.spark.partials import Remote

    rows = reduced.repartition("customer_id").persist(StorageLevel.MEMORY_AND_DISK)
    bought = F.when(F.col("is_purchase"), F.col("day"))
    first, last, last_day = rows.agg(F.min(bought), F.max(bought), F.max("day")).first()
    empty = b.events_frame(pl.DataFrame(schema=schema), level)
    return Loaded(
        dataclasses.replace(table, files=source.files),
        sample.mapping,
        empty,
        sample.date_formats,
        warnings,
        sample.decimal_marks,
        holds=Holds(level),
        rows=counts,
        remote=Remote(rows, schema, level, tuple(keys), has_amount, first, last, last_day),
    )


def _once_per_order(rows: Any, columns: Sequence[str]) -> Any:
    """``frames.once_per_order`` on Spark: ``columns`` kept on each order's first line (in
    file order) only."""
    if not columns:
        return rows
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("order_id").orderBy(b.FILE, b.ID)
    first = (F.row_number().over(order) == 1) | F.col("order_id").isNull()
    return rows.select(
        *(
            F.when(first, F.col(c)).otherwise(F.lit(None)).alias(c) if c in columns else F.col(c)
            for c in rows.columns
        )
    )


def _reduced_schema(plan: b.Plan, level: Level, keys: Sequence[str]) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {k: pl.String() for k in keys}
    schema.update(
        {
            "customer_id": pl.String(),
            "day": pl.Date(),
            "revenue_day": pl.Date(),
            "is_purchase": pl.Boolean(),
        }
    )
    if level is Level.orders:
        if plan.order_id is not None:
            schema["order_id"] = pl.String()
        schema[b.SOLO] = pl.Int64()
    schema["micros"] = pl.Int128()
    if plan.has_amount:
        schema["amount"] = pl.Float64()
    return schema
