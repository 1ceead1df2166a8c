"""``retcalc diff``: what changed between two runs (SPEC §10).

Two runs are two JSON reports (each holds its manifest) or two command outputs (CSV,
TSV, JSON, NDJSON or Parquet), each with the manifest the command wrote with
``--manifest`` (by default ``OUTPUT.manifest.json`` beside it).

- **Cells**: rows are matched on their keys (the ``--by`` columns, then ``cohort``,
  ``offset``, ``period_start``, ``range_start``, ``range_end``, ``customer_id``,
  ``days``, those the table has); every numeric column of a row in both runs is compared
  (text, dates and flags are not figures). A cell changed when exactly one side is
  empty or the two differ by more than 1e-9 relative (a CSV round trip is exact).
- **Restated**: a changed cell whose period had ended in the old run: its end
  (``period_end``; else ``period_start`` plus one ``--period``; else the day after
  ``range_end``) on or before the old run's data end (``--as-of``, else the day after
  its last order). Those figures had been final.
- **Parameters, definitions, inputs**: what differs between the manifests.
- **Orders** (``--orders OLD NEW``): the two inputs read with the normal reader and
  compared per ``order_id`` (customer, first day, amount, refund, status, lines). A
  restated cell of period ``[s, e)`` is attributed to the orders added, removed or
  changed that are dated in ``[s - W, e)`` (W the run's ``--active-window``; ``all``:
  any day before e), the orders that can move a figure of that period.
- **Effects** (``--by`` outputs): per period and rate, the change of the pooled rate
  (groups weighted by the rate's denominator) split into rate and mix effects:
  rate = sum w_old (r_new - r_old), mix = sum (w_new - w_old) r_new; they add up to
  the change. A group in one run only has weight 0 in the other.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from retcalc import manifest as mf
from retcalc.errors import InputError, UsageError

#: Columns that identify a row, in the order the diff shows them (after ``--by`` keys).
KEY_COLUMNS = (
    "cohort",
    "offset",
    "period_start",
    "range_start",
    "range_end",
    "customer_id",
    "days",
)
#: Columns read as dates when an output holds them as text (CSV, JSON).
DATE_COLUMNS = ("cohort", "period_start", "period_end", "range_start", "range_end")
#: The columns of the cells table, after the keys (their meanings: retcalc.definitions).
CELL_COLUMNS = ("column", "old", "new", "delta", "restated")
ORDER_COLUMNS = ("orders_added", "orders_removed", "orders_changed")
EFFECT_COLUMNS = ("column", "old", "new", "delta", "rate_effect", "mix_effect")
#: Parameters that change how an output looks or where it goes, not its figures.
PRESENTATION = frozenset({"output", "fmt", "plot", "excel_safe", "fail_if", "title", "today"})
#: Relative difference below which two figures are the same.
TOLERANCE = 1e-9
SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Run:
    """One side of a diff: its tables (one for a command output) and its manifest."""

    path: str
    manifest: dict[str, Any]
    tables: dict[str, pl.DataFrame]  # "" for a command output; section/table for a report

    @property
    def command(self) -> str:
        return str(self.manifest.get("command"))

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.manifest.get("parameters") or {})

    @property
    def data_end(self) -> dt.date | None:
        end = self.manifest.get("data_end")
        return dt.date.fromisoformat(end) if isinstance(end, str) else None


@dataclass
class Result:
    """What changed: the changed cells, or with ``effects`` the rate and mix effects; and
    the differences of the manifests, one sentence each."""

    cells: pl.DataFrame
    changes: list[str] = field(default_factory=list)
    restated: int = 0  # restated cells
    notes: list[str] = field(default_factory=list)  # rows in one run only, tables skipped


# ---------------------------------------------------------------------------- reading


def _manifest_at(path: Path, what: str) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{what}: no manifest at {path}; diff needs each output's manifest: write it with "
            f"the command's --manifest {path}, or name it with --old-manifest / --new-manifest"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as a manifest (JSON): {exc}") from None
    return _checked_manifest(found, str(path))


def _checked_manifest(found: Any, name: str) -> dict[str, Any]:
    if not isinstance(found, dict) or found.get(mf.FORMAT_KEY) != mf.FORMAT:
        raise InputError(
            f'{name}: is not a retcalc manifest (no "{mf.FORMAT_KEY}": {mf.FORMAT}); '
            "give the file a command wrote with --manifest"
        )
    return found


def _dates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(c).str.to_date("%Y-%m-%d", strict=False)
        for c in DATE_COLUMNS
        if c in frame.columns and frame.schema[c] == pl.String
    )


def _rows_frame(rows: Any, name: str) -> pl.DataFrame:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(
            f"{name}: is not a retcalc output (expected a JSON list of rows or a report)"
        )
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows, infer_schema_length=None)


def read_run(path: str, manifest_path: str | None, what: str) -> Run:
    """A report or a command output with its manifest; exit 2 on anything else."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{what} {path}: no such file; give a retcalc report or command output")
    suffix = file.suffix.lower()
    try:
        if suffix == ".json":
            document = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(document, dict) and "sections" in document and "report" in document:
                return _report_run(path, document, manifest_path)
            frame = _rows_frame(document, path)
        elif suffix == ".ndjson":
            frame = pl.read_ndjson(file, infer_schema_length=None)
        elif suffix in SUFFIXES:
            frame = pl.read_csv(file, separator=SUFFIXES[suffix], infer_schema_length=None)
        elif suffix == ".parquet":
            frame = pl.read_parquet(file)
        else:
            raise InputError(
                f"{what} {path}: diff reads .json reports and .csv, .tsv, .json, .ndjson or "
                ".parquet command outputs, not {suffix or 'a file without an extension'}"
            )
    except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: is not a retcalc output: {str(exc).splitlines()[0]}") from None
    found = Path(manifest_path) if manifest_path else Path(path + mf.SUFFIX)
    return Run(path, _manifest_at(found, f"{what} {path}"), {"": _dates(frame)})


def _report_run(path: str, document: dict[str, Any], manifest_path: str | None) -> Run:
    if manifest_path:
        found = _manifest_at(Path(manifest_path), path)
    elif "manifest" in document:
        found = _checked_manifest(document["manifest"], f"{path}: its manifest")
    else:
        raise InputError(
            f"{path}: this report holds no manifest (written before retcalc wrote them); "
            "write it again, or name its run's manifest with --old-manifest / --new-manifest"
        )
    tables = {}
    for key, section in (document.get("sections") or {}).items():
        for name, rows in (section.get("tables") or {}).items():
            tables[f"{key}/{name}"] = _dates(_rows_frame(rows, f"{path}: table {name}"))
    return Run(path, found, tables)


# --------------------------------------------------------------------------- manifests


def manifest_changes(old: Run, new: Run) -> list[str]:
    """The differences of two runs' manifests, one sentence each."""
    out = []
    a, b = old.manifest, new.manifest
    if a.get("retcalc_version") != b.get("retcalc_version"):
        out.append(f"retcalc version: {a.get('retcalc_version')} -> {b.get('retcalc_version')}")
    if a.get("definitions_version") != b.get("definitions_version"):
        out.append(
            f"definitions version: {a.get('definitions_version')} -> "
            f"{b.get('definitions_version')} (a column's meaning or formula changed)"
        )
    pa, pb = old.parameters, new.parameters
    for name in sorted(set(pa) | set(pb)):
        if name in PRESENTATION or pa.get(name) == pb.get(name):
            continue
        out.append(f"parameter {name}: {_shown(pa.get(name))} -> {_shown(pb.get(name))}")
    inputs_a = {i.get("role"): i for i in a.get("inputs") or []}
    inputs_b = {i.get("role"): i for i in b.get("inputs") or []}
    for role in dict.fromkeys([*inputs_a, *inputs_b]):
        ia, ib = inputs_a.get(role), inputs_b.get(role)
        if ia is None or ib is None:
            out.append(
                f"input {role}: {'none' if ia is None else ia.get('name')} -> "
                f"{'none' if ib is None else ib.get('name')}"
            )
            continue
        ha = [f.get("sha256") for f in ia.get("files") or []]
        hb = [f.get("sha256") for f in ib.get("files") or []]
        if ha != hb:
            rows = ""
            ra, rb = ia.get("rows") or {}, ib.get("rows") or {}
            if ra and rb:
                rows = f"; rows read {ra.get('read')} -> {rb.get('read')}, used {ra.get('used')} -> {rb.get('used')}"
            out.append(
                f"input {role}: content changed ({ia.get('name')} -> {ib.get('name')}{rows})"
            )
    for key in ("data_start", "data_end"):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)} -> {b.get(key)}")
    return out


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value)


# ------------------------------------------------------------------------------ cells


def _by_keys(run: Run) -> list[str]:
    from retcalc.io.dimensions import parse_by

    by = run.parameters.get("by") or []
    return [d.key for d in parse_by([str(b) for b in by])] if by else []


def keys_of(frame: pl.DataFrame, by: Sequence[str]) -> list[str]:
    """The columns that identify a row of ``frame``."""
    return [*(b for b in by if b in frame.columns), *(k for k in KEY_COLUMNS if k in frame.columns)]


def _numeric(frame: pl.DataFrame, keys: Sequence[str]) -> list[str]:
    return [
        c
        for c, dtype in frame.schema.items()
        if c not in keys and (dtype.is_numeric()) and not c.startswith("_")
    ]


def _row_end(frame: pl.DataFrame, period: str | None) -> pl.Expr:
    """When each row's period ends (exclusive), or null."""
    from retcalc.periods import Period

    if "period_end" in frame.columns and frame.schema["period_end"] == pl.Date:
        return pl.col("period_end")
    if "period_start" in frame.columns and frame.schema["period_start"] == pl.Date:
        try:
            every = Period(period).every if period else None
        except ValueError:
            every = None
        if every is not None:
            return pl.col("period_start").dt.offset_by(every)
    if "range_end" in frame.columns and frame.schema["range_end"] == pl.Date:
        return pl.col("range_end").dt.offset_by("1d")
    return pl.lit(None, dtype=pl.Date)


def _row_start(frame: pl.DataFrame) -> pl.Expr:
    for name in ("period_start", "range_start"):
        if name in frame.columns and frame.schema[name] == pl.Date:
            return pl.col(name)
    return pl.lit(None, dtype=pl.Date)


def _long(frame: pl.DataFrame, keys: list[str], values: list[str], name: str) -> pl.DataFrame:
    return frame.select(
        *keys, *(pl.col(v).cast(pl.Float64).fill_nan(None) for v in values), "_start", "_end"
    ).unpivot(index=[*keys, "_start", "_end"], on=values, variable_name="column", value_name=name)


def cell_changes(
    old: pl.DataFrame, new: pl.DataFrame, *, keys: list[str], old_run: Run, table: str = ""
) -> tuple[pl.DataFrame, list[str]]:
    """The changed cells of the rows in both frames (keys, _start, column, old, new, delta,
    restated), and notes on the rows in one frame only."""
    where = f"table {table}: " if table else ""
    for frame, run in ((old, "old"), (new, "new")):
        if frame.height and frame.select(keys).is_duplicated().any():
            raise InputError(
                f"{where}the {run} output has two rows with the same {', '.join(keys)}; "
                "diff matches rows on these keys"
            )
    values = [c for c in _numeric(old, keys) if c in _numeric(new, keys)]
    period = old_run.parameters.get("period")
    marked = []
    for frame in (old, new):
        marked.append(
            frame.with_columns(
                _row_start(frame).alias("_start"), _row_end(frame, period).alias("_end")
            )
        )
    a, b = marked
    notes = []
    only_new = b.join(a, on=keys, how="anti", nulls_equal=True).height
    only_old = a.join(b, on=keys, how="anti", nulls_equal=True).height
    if only_new:
        notes.append(f"{where}{only_new} rows only in the new run (not compared)")
    if only_old:
        notes.append(f"{where}{only_old} rows only in the old run (not compared)")
    empty = pl.DataFrame(
        schema={
            **{k: old.schema[k] for k in keys},
            "_start": pl.Date,
            "column": pl.String,
            "old": pl.Float64,
            "new": pl.Float64,
            "delta": pl.Float64,
            "restated": pl.Boolean,
        }
    )
    if not values:
        return empty, notes
    left = _long(a, keys, values, "old")
    right = _long(b, keys, values, "new").drop("_start", "_end")
    joined = left.join(right, on=[*keys, "column"], how="inner", nulls_equal=True)
    o, n = pl.col("old"), pl.col("new")
    scale = pl.max_horizontal(pl.lit(1.0), o.abs(), n.abs())
    changed = (o.is_null() != n.is_null()) | ((o - n).abs() > TOLERANCE * scale).fill_null(False)
    data_end = old_run.data_end
    closed = (
        (pl.col("_end") <= pl.lit(data_end)).fill_null(False)
        if data_end is not None
        else pl.lit(False)
    )
    cells = (
        joined.filter(changed)
        .with_columns((n - o).alias("delta"), closed.alias("restated"))
        .select(*keys, "_start", "_end", "column", "old", "new", "delta", "restated")
        .sort(keys, maintain_order=True)
    )
    return cells, notes


# ----------------------------------------------------------------------------- orders


def _order_prints(path: str) -> pl.DataFrame:
    from retcalc import api

    orders = api.read_orders(path, warn=False)
    frame = orders.frame
    if "order_id" not in frame.columns:
        raise InputError(
            f"--orders {path}: has no order id column; diff compares the orders by order_id "
            "(name it with a config's columns: or compare outputs without --orders)"
        )
    money = [c for c in ("amount", "refund_amount", "quantity") if c in frame.columns]
    status = ["status"] if "status" in frame.columns else []
    return (
        frame.filter(pl.col("order_id").is_not_null())
        .group_by("order_id")
        .agg(
            pl.col("customer_id").min().alias("_customer"),
            pl.col("day").min().alias("_day"),
            *(pl.col(c).sum().round(6).alias(f"_{c}") for c in money),
            *(pl.col(c).cast(pl.String).sort().str.join("|").alias(f"_{c}") for c in status),
            pl.len().alias("_lines"),
        )
    )


def order_changes(old_path: str, new_path: str) -> pl.DataFrame:
    """The orders added, removed or changed between two inputs: order_id, change, day."""
    a, b = _order_prints(old_path), _order_prints(new_path)
    prints = [c for c in a.columns if c != "order_id" and c in b.columns]
    both = a.join(b, on="order_id", how="full", coalesce=True, suffix="_new")
    differs = pl.any_horizontal(*(pl.col(c).ne_missing(pl.col(f"{c}_new")) for c in prints))
    change = (
        pl.when(pl.col("_lines").is_null())
        .then(pl.lit("added"))
        .when(pl.col("_lines_new").is_null())
        .then(pl.lit("removed"))
        .when(differs)
        .then(pl.lit("changed"))
    )
    day = pl.min_horizontal("_day", "_day_new")
    return (
        both.select("order_id", change.alias("change"), day.alias("day"))
        .filter(pl.col("change").is_not_null())
        .sort("day", "order_id")
    )


def attribute(cells: pl.DataFrame, changes: pl.DataFrame, window: str | None) -> pl.DataFrame:
    """``cells`` with the ids of the orders (added, removed, changed) dated in
    ``[start - W, end)`` of each restated cell's period."""
    from retcalc.periods import parse_window

    spans = cells.filter(pl.col("restated")).select("_start", "_end").unique().drop_nulls("_end")
    whole = window is None or window == "all"
    if not whole:
        w = parse_window(str(window))
        spans = spans.with_columns(pl.col("_start").dt.offset_by(w.offset()).alias("_from"))
    else:
        spans = spans.with_columns(pl.lit(None, dtype=pl.Date).alias("_from"))
    inside = (
        spans.join(changes, how="cross")
        .filter(
            (pl.col("day") < pl.col("_end"))
            & (pl.col("_from").is_null() | (pl.col("day") >= pl.col("_from")))
        )
        .group_by("_start", "_end")
        .agg(
            pl.col("order_id")
            .filter(pl.col("change") == kind)
            .sort()
            .str.join(", ")
            .alias(f"orders_{kind}")
            for kind in ("added", "removed", "changed")
        )
    )
    out = cells.join(inside, on=["_start", "_end"], how="left", nulls_equal=True)
    return out.with_columns(
        pl.when(pl.col("restated")).then(pl.col(c).replace("", None)).alias(c)
        for c in ORDER_COLUMNS
    )


# ---------------------------------------------------------------------------- effects


def _denominators() -> dict[str, str]:
    """Each rate whose formula is ``(...) / {denominator}``: rate -> denominator."""
    from retcalc.definitions import COLUMNS, Unit

    out = {}
    for c in COLUMNS.values():
        found = re.search(r"/ \{(\w+)\}$", c.formula or "")
        if c.unit is Unit.rate and found:
            out[c.name] = found.group(1)
    return out


def effects(
    old: pl.DataFrame, new: pl.DataFrame, *, by: list[str], keys: list[str]
) -> pl.DataFrame:
    """Per period (the keys without ``by``) and rate, the pooled rate's change split into
    rate and mix effects (see the module's docstring)."""
    rest = [k for k in keys if k not in by]
    rates = {
        r: d
        for r, d in _denominators().items()
        if all(c in f.columns for c in (r, d) for f in (old, new))
    }
    if not by:
        raise UsageError(
            "--effects splits a --by output's rates into mix and rate effects: these outputs "
            "have no --by groups; run the command with --by COLUMN"
        )
    if not rates:
        raise UsageError(
            "--effects: these outputs have no rate with its denominator column (e.g. "
            "retention_rate and customers_start)"
        )
    parts = []
    for rate, den in rates.items():
        a = old.select(
            *keys,
            pl.col(rate).cast(pl.Float64).fill_nan(None).alias("r_old"),
            pl.col(den).cast(pl.Float64).alias("d_old"),
        )
        b = new.select(
            *keys,
            pl.col(rate).cast(pl.Float64).fill_nan(None).alias("r_new"),
            pl.col(den).cast(pl.Float64).alias("d_new"),
        )
        g = a.join(b, on=keys, how="full", coalesce=True, nulls_equal=True).with_columns(
            pl.col("d_old").fill_null(0.0), pl.col("d_new").fill_null(0.0)
        )
        # A group absent (or of no base) in one run: weight 0 there, its rate the other's.
        g = g.with_columns(
            pl.when(pl.col("d_old") > 0)
            .then("r_old")
            .otherwise(pl.col("r_new"))
            .fill_null(0.0)
            .alias("r_old"),
            pl.when(pl.col("d_new") > 0)
            .then("r_new")
            .otherwise(pl.col("r_old"))
            .fill_null(0.0)
            .alias("r_new"),
        )
        over = rest or None
        g = g.with_columns(
            (
                pl.col("d_old") / pl.col("d_old").sum().over(over)
                if over
                else pl.col("d_old") / pl.col("d_old").sum()
            )
            .fill_nan(0.0)
            .alias("w_old"),
            (
                pl.col("d_new") / pl.col("d_new").sum().over(over)
                if over
                else pl.col("d_new") / pl.col("d_new").sum()
            )
            .fill_nan(0.0)
            .alias("w_new"),
        )
        agg = [
            (pl.col("w_old") * pl.col("r_old")).sum().alias("old"),
            (pl.col("w_new") * pl.col("r_new")).sum().alias("new"),
            (pl.col("w_old") * (pl.col("r_new") - pl.col("r_old"))).sum().alias("rate_effect"),
            (pl.col("d_old").sum() > 0).alias("_had"),
            (pl.col("d_new").sum() > 0).alias("_has"),
        ]
        frame = g.group_by(rest, maintain_order=True).agg(agg) if rest else g.select(agg)
        # mix = sum (w_new - w_old) r_new = delta - rate algebraically; taken as the
        # difference so that rate + mix is delta to the last digit.
        frame = (
            frame.filter(pl.col("_had") & pl.col("_has"))
            .with_columns(
                pl.lit(rate).alias("column"), (pl.col("new") - pl.col("old")).alias("delta")
            )
            .with_columns((pl.col("delta") - pl.col("rate_effect")).alias("mix_effect"))
        )
        parts.append(frame.select(*rest, *EFFECT_COLUMNS))
    out = pl.concat(parts, how="vertical_relaxed")
    moved = (
        (pl.col("delta").abs() > TOLERANCE)
        | (pl.col("rate_effect").abs() > TOLERANCE)
        | (pl.col("mix_effect").abs() > TOLERANCE)
    )
    return out.filter(moved).sort([*rest, "column"]) if rest else out.filter(moved)


# ------------------------------------------------------------------------------- diff


def diff_runs(
    old: Run,
    new: Run,
    *,
    orders: tuple[str, str] | None = None,
    with_effects: bool = False,
) -> Result:
    """Compare two runs read by :func:`read_run`."""
    if old.command != new.command:
        raise InputError(
            f"{old.path} is a {old.command} output and {new.path} a {new.command} output: "
            "diff compares two runs of one command"
        )
    is_report = set(old.tables) != {""}
    if is_report != (set(new.tables) != {""}):
        raise InputError(
            f"{old.path} and {new.path}: one is a report and the other a command output; "
            "diff compares two reports or two outputs of one command"
        )
    by = _by_keys(old)
    if by != _by_keys(new):
        raise InputError(
            f"{old.path} is grouped by {by or 'nothing'} and {new.path} by "
            f"{_by_keys(new) or 'nothing'}: diff compares outputs with the same --by"
        )
    result = Result(pl.DataFrame(), manifest_changes(old, new))
    if with_effects:
        if is_report:
            raise UsageError("--effects is for --by command outputs, not reports")
        a, b = old.tables[""], new.tables[""]
        result.cells = effects(a, b, by=by, keys=keys_of(a, by))
        return result
    frames = []
    for name in old.tables:
        if name not in new.tables:
            result.notes.append(f"table {name}: only in the old report")
            continue
        a, b = old.tables[name], new.tables[name]
        keys = keys_of(a, by)
        if not keys or keys != keys_of(b, by):
            if is_report:
                result.notes.append(f"table {name}: no key columns to match rows on; skipped")
                continue
            raise InputError(
                f"{old.path}: no column to match rows on (expected one of "
                f"{', '.join(KEY_COLUMNS)}, or the same --by columns in both outputs)"
            )
        cells, notes = cell_changes(a, b, keys=keys, old_run=old, table=name)
        result.notes += notes
        if is_report:
            cells = cells.with_columns(pl.lit(name).alias("table")).select(
                "table", pl.all().exclude("table")
            )
        frames.append(cells)
    result.notes += [
        f"table {n}: only in the new report" for n in new.tables if n not in old.tables
    ]
    cells = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    if cells.width == 0:
        cells = pl.DataFrame(
            schema={
                "column": pl.String,
                "old": pl.Float64,
                "new": pl.Float64,
                "delta": pl.Float64,
                "restated": pl.Boolean,
                "_start": pl.Date,
                "_end": pl.Date,
            }
        )
    result.restated = int(cells["restated"].sum() or 0)
    if orders is not None:
        changes = order_changes(*orders)
        window = old.parameters.get("active_window")
        cells = attribute(cells, changes, None if window is None else str(window))
    keys = [
        c
        for c in cells.columns
        if c not in (*CELL_COLUMNS, *ORDER_COLUMNS, "_start", "_end", "table")
    ]
    head = ["table"] if "table" in cells.columns else []
    tail = [c for c in ORDER_COLUMNS if c in cells.columns]
    result.cells = cells.select(*head, *keys, *CELL_COLUMNS, *tail)
    return result


def diff(
    old: str,
    new: str,
    *,
    old_manifest: str | None = None,
    new_manifest: str | None = None,
    orders: tuple[str, str] | None = None,
    effects: bool = False,
) -> Result:
    """Read two runs and compare them."""
    a = read_run(old, old_manifest, "OLD")
    b = read_run(new, new_manifest, "NEW")
    return diff_runs(a, b, orders=orders, with_effects=effects)


def restated_message(result: Result) -> str:
    """What ``--fail-on-restated`` says when it exits 1."""
    return (
        f"--fail-on-restated: {result.restated} cells of complete periods changed "
        "(restated history); the rows with restated = true say which"
    )


__all__ = ["Result", "Run", "diff", "diff_runs", "read_run"]
