"""``retcalc inspect``: what retcalc sees in a file, and why."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from retcalc.cli.options import Common, Debug
from retcalc.cli.runner import run
from retcalc.lazy import LazyModule
from retcalc.schema import COLUMNS, Kind

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from retcalc.io import currency
    from retcalc.io.frames import LoadOptions
    from retcalc.io.load import Table
    from retcalc.io.mapping import ColumnMap
else:  # retcalc.lazy: `inspect --help` needs none of them
    pl = LazyModule("polars")
    currency = LazyModule("retcalc.io.currency")


def _summary(path: str, kind: Kind, options: LoadOptions) -> dict[str, object]:
    from retcalc.io.frames import load_customers, load_orders
    from retcalc.io.load import ROW, open_table

    table = open_table(path, encoding=options.encoding)
    loaded = (
        load_orders(path, options, table=table)
        if kind is Kind.orders
        else load_customers(path, options, table=table)
    )
    raw_rows = table.frame.select(pl.len()).collect().item()
    columns: list[dict[str, object]] = []
    for column in COLUMNS[kind]:
        resolved = loaded.mapping.columns.get(column.name)
        if resolved is None:
            columns.append({"column": column.name, "source": None, "found_by": None, "empty": None})
            continue
        src = pl.col(resolved.source)
        empty = (
            table.frame.select(
                (src.is_null() | (src.cast(pl.String).str.strip_chars() == "")).sum()
            )
            .collect()
            .item()
        )
        columns.append(
            {
                "column": column.name,
                "source": resolved.source,
                "found_by": resolved.reason,
                "empty": int(empty),
            }
        )
    frame = loaded.frame
    summary: dict[str, object] = {
        "file": table.name,
        "kind": kind.value,
        "export": loaded.mapping.export,
        "rows": int(raw_rows),
        "rows_used": frame.height,
        "columns": columns,
        "unmapped": [
            c for c in table.columns if c not in {r.source for r in loaded.mapping.columns.values()}
        ],
        "warnings": loaded.warnings,
    }
    if kind is Kind.orders:
        fmt = loaded.date_formats["order_date"]
        summary["date_format"] = f"{fmt.style.value} ({fmt.reason})"
        summary["first_date"] = str(frame["day"].min())
        summary["last_date"] = str(frame["day"].max())
        summary["customers"] = frame["customer_id"].n_unique()
        if "order_id" in frame.columns:
            per_order = frame.group_by("order_id").agg(
                pl.col("customer_id").n_unique().alias("customers"),
                pl.col("day").n_unique().alias("days"),
                pl.len().alias("lines"),
            )
            summary["orders"] = per_order.height
            summary["order_ids_with_several_lines"] = per_order.filter(pl.col("lines") > 1).height
            summary["order_ids_with_several_customers"] = per_order.filter(
                pl.col("customers") > 1
            ).height
        if loaded.statuses is not None:
            summary["statuses"] = loaded.statuses.frame().to_dicts()
        summary.update(_currencies(table, loaded.mapping))
        duplicate_rows = table.frame.drop(ROW).collect().is_duplicated().sum()
        summary["exact_duplicate_rows"] = int(duplicate_rows)
    return summary


def _currencies(table: Table, mapping: ColumnMap) -> dict[str, object]:
    """The currencies found, with their row counts (rows with a customer id)."""
    source = mapping.get("currency")
    if source is None:
        return {}
    found = currency.scan_census(
        table, source, mapping.get("customer_id") or "", mapping.get("amount")
    )
    return {"currencies": dict(found.counts), "rows_without_currency": found.empty}


def print_summary(summary: dict[str, object], console: Console) -> None:
    """The findings for people at a terminal: the facts, then the columns as a table."""
    from rich.markup import escape

    from retcalc.render.table import print_table

    console.print(
        f"[bold]{escape(str(summary['file']))}[/] — {summary['kind']}"
        + (f", recognised as a [bold]{summary['export']}[/] export" if summary["export"] else "")
    )
    facts = [
        k
        for k in summary
        if k not in {"file", "kind", "export", "columns", "unmapped", "warnings", "statuses"}
    ]
    for key in facts:
        console.print(f"  {key.replace('_', ' ')}: {summary[key]}", markup=False)
    grid = pl.DataFrame(
        summary["columns"],  # type: ignore[arg-type]
        schema={"column": pl.String, "source": pl.String, "found_by": pl.String, "empty": pl.Int64},
    )
    print_table(grid, console=console, title="Columns", keys=["column"])
    if summary.get("statuses"):
        statuses = pl.DataFrame(
            summary["statuses"],  # type: ignore[arg-type]
            schema={"status": pl.String, "rows": pl.Int64, "meaning": pl.String, "from": pl.String},
        )
        print_table(
            statuses, console=console, title="Statuses: what each row means", keys=["status"]
        )
    if summary["unmapped"]:
        console.print("  not used: " + ", ".join(summary["unmapped"]), markup=False)  # type: ignore[arg-type]
    for warning in summary["warnings"]:  # type: ignore[attr-defined]
        console.print(f"  warning: {warning}", markup=False)


def inspect(
    path: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="The file to look at (CSV, Parquet or -).", show_default=False
        ),
    ],
    customers: Annotated[
        bool, typer.Option("--customers", help="Read it as a customers file.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    config: Annotated[
        str | None, typer.Option("--config", metavar="FILE", help="YAML column mapping.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", metavar="EXPORT", help="Force a known export layout.")
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            metavar="FORMAT",
            help="iso, yyyymmdd, dmy, mdy, epoch-s, epoch-ms or a strftime pattern.",
        ),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", metavar="ENCODING", help="Text encoding of CSV input.")
    ] = "utf8",
    status_map: Annotated[
        list[str] | None,
        typer.Option(
            "--status-map", metavar="RAW=MEANING", help="What a status of your file means."
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Show the detected column mapping, row count, date range, empty values and duplicate order ids."""
    _ = Common  # the mapping flags of the data commands are read from the config here

    def body() -> None:
        from pathlib import Path

        from rich.console import Console

        from retcalc.io import dates
        from retcalc.io.frames import LoadOptions
        from retcalc.io.mapping import load_config
        from retcalc.meanings import parse_status_map

        options = LoadOptions(
            config=load_config(Path(config) if config else None),
            date_style=dates.style_from_flag(date_format) if date_format else None,
            encoding=encoding,
            source=source,
            status_map=parse_status_map(status_map or ()),
            money=currency.MoneyOptions(mixed=True),
        )
        summary = _summary(path, Kind.customers if customers else Kind.orders, options)
        if as_json or not sys.stdout.isatty():
            sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
            return
        print_summary(summary, Console())

    run(body, debug=debug)
