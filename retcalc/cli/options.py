"""Options shared by the data commands, declared once.

``@data_command`` adds every shared option to a command's signature (Typer
reads ``__signature__``) and hands them to the command as one
:class:`Common` value, so each command module declares only its own options.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from retcalc.engines import Engine
from retcalc.metrics.choices import Basis
from retcalc.metrics.conventions import Vendor
from retcalc.periods import Period
from retcalc.render import OutputFormat

MAPPING = "Column mapping"
RANGE = "Periods and range"
OUTPUT = "Output"
ENGINE = "Engine"
MONEY = "Currencies and minor units"

#: ``--debug`` of every command: the traceback of an error instead of its one line (exit 70).
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.", hidden=True)]


def _confidence(value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:  # NaN too
        raise typer.BadParameter(f"{value:g}: give a confidence level between 0 and 1, e.g. 0.95")
    return value


Confidence = Annotated[
    float | None,
    typer.Option(
        "--ci",
        callback=_confidence,
        metavar="LEVEL",
        help="Add _lo and _hi columns after each share of customers or orders: Wilson score "
        "intervals at this level (e.g. 0.95).",
    ),
]


#: ``--convention`` of churn, retention, kpis and cohorts (docs/conventions.md).
ConventionOption = Annotated[
    Vendor | None,
    typer.Option(
        "--convention",
        help="A vendor's definitions where they differ from retcalc's: chartmogul or "
        "baremetrics (churn, retention, kpis), amplitude (cohorts). See docs/conventions.md.",
    ),
]


#: ``--ci-resamples`` and ``--seed`` of the commands whose revenue ratios get a bootstrap.
CiResamples = Annotated[
    int,
    typer.Option(
        "--ci-resamples",
        metavar="N",
        min=1,
        max=100_000,
        help="With --ci: resamples of the customers for the revenue ratios' bootstrap intervals.",
    ),
]
Seed = Annotated[
    int,
    typer.Option(
        "--seed",
        metavar="N",
        min=0,
        help="With --ci: the bootstrap's random seed (said on stderr).",
    ),
]


@dataclass
class Common:
    """The shared options of every data command, as parsed by Typer."""

    orders: Annotated[
        str,
        typer.Argument(
            metavar="ORDERS",
            help="Orders: a CSV or Parquet file, a directory or glob of Parquet files, or - for stdin.",
            show_default=False,
        ),
    ]
    customers: Annotated[
        str | None,
        typer.Option(
            "--customers",
            metavar="FILE",
            help="Customers file (customer_id, signup_date, churn_date, segment, cost_to_serve).",
        ),
    ] = None
    period: Annotated[
        Period, typer.Option("--period", "-p", help="Period length.", rich_help_panel=RANGE)
    ] = Period.month
    active_window: Annotated[
        str,
        typer.Option(
            "--active-window",
            "-w",
            metavar="WINDOW",
            help="Active = ordered within this window before the instant: 30d, 8w, 3mo, 1y or all.",
            rich_help_panel=RANGE,
        ),
    ] = "12mo"
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="DATE",
            help="First day of the range (YYYY-MM-DD); its period starts the grid.",
            rich_help_panel=RANGE,
        ),
    ] = None
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="DATE",
            help="Last day of the range (YYYY-MM-DD); its period ends the grid.",
            rich_help_panel=RANGE,
        ),
    ] = None
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="Ignore every event on or after this date (YYYY-MM-DD).",
            rich_help_panel=RANGE,
        ),
    ] = None
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            metavar="AGE",
            help="Exit 2 when the last order is older than this before --as-of (else today): 2d, 8w, 3mo, 1y. For cron.",
            rich_help_panel=RANGE,
        ),
    ] = None
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="COLUMN",
            help="Split every figure by this column (segment, channel, product_id, ...).",
            rich_help_panel=RANGE,
        ),
    ] = None
    basis: Annotated[
        Basis | None,
        typer.Option(
            "--basis",
            help="activity (orders) or subscription (customers' signup/churn dates). Default: subscription when --customers has signup dates.",
            rich_help_panel=RANGE,
        ),
    ] = None
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format. Default: table on a terminal, CSV otherwise.",
            rich_help_panel=OUTPUT,
        ),
    ] = None
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (format from its extension); replaced atomically.",
            rich_help_panel=OUTPUT,
        ),
    ] = None
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="FILE",
            help="Also write the run's manifest (JSON: version, command, parameters, inputs with size and SHA-256, rows read/used/dropped, data range) to FILE; retcalc diff compares two runs by it.",
            rich_help_panel=OUTPUT,
        ),
    ] = None
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            metavar="CONDITION",
            help='Exit 1 when the last complete period matches, e.g. "churn_rate > 0.07". Repeatable.',
            rich_help_panel=OUTPUT,
        ),
    ] = None
    excel_safe: Annotated[
        bool,
        typer.Option(
            "--excel-safe",
            help="Prefix text cells starting with = + - @ with ' in CSV/TSV.",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    customer_col: Annotated[
        str | None,
        typer.Option(
            "--customer-col",
            metavar="COLUMN",
            help="Column holding the customer id.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    date_col: Annotated[
        str | None,
        typer.Option(
            "--date-col",
            metavar="COLUMN",
            help="Column holding the order date.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    amount_col: Annotated[
        str | None,
        typer.Option(
            "--amount-col",
            metavar="COLUMN",
            help="Column holding the net amount.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    order_col: Annotated[
        str | None,
        typer.Option(
            "--order-col",
            metavar="COLUMN",
            help="Column holding the order id.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    quantity_col: Annotated[
        str | None,
        typer.Option(
            "--quantity-col",
            metavar="COLUMN",
            help="Column holding the quantity.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    price_col: Annotated[
        str | None,
        typer.Option(
            "--price-col",
            metavar="COLUMN",
            help="Column holding the unit price.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    status_col: Annotated[
        str | None,
        typer.Option(
            "--status-col",
            metavar="COLUMN",
            help="Column holding the order status.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    refund_col: Annotated[
        str | None,
        typer.Option(
            "--refund-col",
            metavar="COLUMN",
            help="Column holding the refunded amount.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    currency_col: Annotated[
        str | None,
        typer.Option(
            "--currency-col",
            metavar="COLUMN",
            help="Column holding the currency code of the row's amounts.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    signup_col: Annotated[
        str | None,
        typer.Option(
            "--signup-col",
            metavar="COLUMN",
            help="Customers: column holding the signup date.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    churn_col: Annotated[
        str | None,
        typer.Option(
            "--churn-col",
            metavar="COLUMN",
            help="Customers: column holding the churn date.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="YAML column mapping (default ./retcalc.yaml when present).",
            rich_help_panel=MAPPING,
        ),
    ] = None
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="EXPORT",
            help="Force a known export layout: shopify, stripe, woocommerce, uci-online-retail, etsy, square.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            metavar="FORMAT",
            help="iso, yyyymmdd, dmy (31/01/2024), mdy (01/31/2024), epoch-s or epoch-ms when the file cannot tell, or a strftime pattern such as '%d.%m.%Y %H:%M'.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            metavar="ENCODING",
            help="Text encoding of CSV input (e.g. latin-1). Default: UTF-8, else Windows-1252 with a warning.",
            rich_help_panel=MAPPING,
        ),
    ] = "utf8"
    decimal: Annotated[
        str | None,
        typer.Option(
            "--decimal",
            metavar="MARK",
            help="Decimal mark of numbers written as text: . (1,234.56) or , (1.234,56). Default: detected per column.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Time zone for the calendar (e.g. Europe/Paris): timestamps with an offset, or in a UTC column, are converted to it before taking the date. Default: the date as written.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    status_map: Annotated[
        list[str] | None,
        typer.Option(
            "--status-map",
            metavar="RAW=MEANING",
            help="What a status of your file means (repeatable): storniert=cancelled. Meanings: paid, pending, failed, cancelled, refunded, partially_refunded, returned. Also 'statuses:' in the config.",
            rich_help_panel=MAPPING,
        ),
    ] = None
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse (exit 2) a status no table knows, or an empty or NaN amount, instead of counting it (as paid, as 0) with a warning.",
            rich_help_panel=MAPPING,
        ),
    ] = False
    amount_level: Annotated[
        str,
        typer.Option(
            "--amount-level",
            metavar="auto|line",
            help="line: the amount column is each line's own value, even where every line of an order repeats it (auto reads such a column as the order's total, once per order).",
            rich_help_panel=MAPPING,
        ),
    ] = "auto"
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            help="Drop rows that repeat an earlier row exactly (e.g. overlapping exports).",
            rich_help_panel=MAPPING,
        ),
    ] = False
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            metavar="CODE",
            help="Keep only the rows in this currency (e.g. USD); the others are left out and counted on stderr.",
            rich_help_panel=MONEY,
        ),
    ] = None
    fx: Annotated[
        str | None,
        typer.Option(
            "--fx",
            metavar="FILE",
            help="Exchange rates (CSV or Parquet: currency, rate[, date]) to convert every amount to --report-currency.",
            rich_help_panel=MONEY,
        ),
    ] = None
    report_currency: Annotated[
        str | None,
        typer.Option(
            "--report-currency",
            metavar="CODE",
            help="The currency --fx converts to; rate = units of it per unit of the row's currency.",
            rich_help_panel=MONEY,
        ),
    ] = None
    amount_scale: Annotated[
        float | None,
        typer.Option(
            "--amount-scale",
            metavar="FACTOR",
            help="Multiply every money column by this (0.01: cents to units; 1: keep as written). Default: 0.01 for *_cents/*_minor columns, else 1.",
            rich_help_panel=MONEY,
        ),
    ] = None
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="Where the work runs: polars (this process) or spark (a Spark job: local[*], --spark-master, or Spark Connect when SPARK_REMOTE is set). Same tables either way.",
            rich_help_panel=ENGINE,
        ),
    ] = Engine.polars
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            metavar="URL",
            help="With --engine spark: the master URL (spark://host:7077, yarn, local[4]). Default local[*].",
            rich_help_panel=ENGINE,
        ),
    ] = None
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf",
            metavar="KEY=VALUE",
            help="With --engine spark: a Spark setting, repeatable (--conf spark.executor.memory=8g). It and spark-defaults.conf win over retcalc's defaults (spark.driver.memory=4g; spark.sql.shuffle.partitions one per 128 MiB of input, at least the default parallelism).",
            rich_help_panel=ENGINE,
        ),
    ] = None
    debug: Debug = False

    @property
    def order_flags(self) -> dict[str, str | None]:
        return {
            "customer_id": self.customer_col,
            "order_date": self.date_col,
            "amount": self.amount_col,
            "order_id": self.order_col,
            "quantity": self.quantity_col,
            "unit_price": self.price_col,
            "status": self.status_col,
            "refund_amount": self.refund_col,
            "captured": None,
            "currency": self.currency_col,
        }

    @property
    def customer_flags(self) -> dict[str, str | None]:
        return {
            "customer_id": self.customer_col,
            "signup_date": self.signup_col,
            "churn_date": self.churn_col,
        }


def _common_parameters() -> list[inspect.Parameter]:
    hints = inspect.get_annotations(Common, eval_str=True)
    params = []
    for f in fields(Common):
        default = inspect.Parameter.empty if f.default is MISSING else f.default
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[f.name]
            )
        )
    return params


def data_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func(common: Common, **own)`` the shared options as Typer parameters."""
    own = [
        p
        for name, p in inspect.signature(func, eval_str=True).parameters.items()
        if name != "common"
    ]
    shared = _common_parameters()
    shared_names = {p.name for p in shared}
    positional = [p for p in shared if p.default is inspect.Parameter.empty]
    optional = [p for p in shared if p.default is not inspect.Parameter.empty]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        from retcalc import manifest

        common = Common(**{k: v for k, v in kwargs.items() if k in shared_names})
        # Every parameter, as parsed: the run's manifest records them (SPEC §10).
        manifest.begin(func.__name__, kwargs, common.manifest)
        return func(common, **{k: v for k, v in kwargs.items() if k not in shared_names})

    wrapper.__signature__ = inspect.Signature([*positional, *own, *optional])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*positional, *own, *optional]}
    return wrapper
