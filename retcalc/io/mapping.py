"""Which input column holds each canonical column (SPEC §1).

Resolution order: command-line flags, then the YAML config (``--config FILE``,
else ``./retcalc.yaml``), then a recognised export's own layout, then
case- and punctuation-insensitive synonyms.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retcalc.errors import InputError, UsageError
from retcalc.schema import COLUMNS, Kind, normalize


@dataclass(frozen=True)
class Export:
    """A known export layout, recognised by a subset of its headers."""

    name: str
    signature: tuple[str, ...]  # every one of these (normalised) must be present
    columns: Mapping[str, tuple[str, ...]]  # canonical -> candidate headers, in order
    note: str = ""
    date_order: str | None = None  # "dmy" or "mdy" when the export always writes one
    #: Canonical columns whose value belongs to the order, not the line: counted once per
    #: order (on its first line) even where the export repeats it on every line.
    order_level: tuple[str, ...] = ()


EXPORTS: tuple[Export, ...] = (
    Export(
        "shopify",
        ("name", "email", "financialstatus", "createdat", "lineitemquantity"),
        {
            "customer_id": ("Email", "Phone", "Billing Phone"),
            "order_date": ("Created at",),
            "order_id": ("Name",),
            "amount": ("Total",),
            "refund_amount": ("Refunded Amount",),
            "status": ("Financial Status",),
            "quantity": ("Lineitem quantity",),
            "product_id": ("Lineitem sku", "Lineitem name"),
            "channel": ("Source",),
            "currency": ("Currency",),
        },
        "order value = Total - Refunded Amount on the order's first line",
        order_level=("amount", "refund_amount"),
    ),
    Export(
        "stripe",
        ("amountrefunded", "customerid", "currency", "status"),
        {
            "customer_id": ("Customer ID", "Customer Email"),
            "order_date": ("Created (UTC)", "Created date (UTC)"),
            "order_id": ("id",),
            "amount": ("Converted Amount", "Amount"),
            "refund_amount": ("Converted Amount Refunded", "Amount Refunded"),
            "status": ("Status",),
            "captured": ("Captured",),
            # Converted Currency goes with Converted Amount (see currency.currency_source).
            "currency": ("Converted Currency", "Currency"),
        },
        "net = Amount - Amount Refunded; charges not captured are no sale",
    ),
    Export(
        "woocommerce",
        ("ordernumber", "orderstatus", "orderdate", "emailbilling"),
        {
            "customer_id": ("Email (Billing)",),
            "order_date": ("Order Date",),
            "order_id": ("Order Number",),
            "amount": ("Order Total Amount",),
            "refund_amount": ("Order Refund Amount",),
            "status": ("Order Status",),
            "quantity": ("Quantity (- Refund)",),
            "product_id": ("SKU", "Item Name"),
        },
        "net = Order Total Amount - Order Refund Amount, once per order",
        order_level=("amount", "refund_amount"),
    ),
    Export(
        "uci-online-retail",
        ("stockcode", "quantity", "invoicedate", "country"),
        {
            "customer_id": ("CustomerID", "Customer ID"),
            "order_date": ("InvoiceDate",),
            "order_id": ("InvoiceNo", "Invoice"),
            "quantity": ("Quantity",),
            "unit_price": ("UnitPrice", "Price"),
            "product_id": ("StockCode",),
        },
        "value = Quantity x UnitPrice; invoices starting with C are cancellations",
    ),
    Export(
        "etsy",
        ("saledate", "orderid", "buyeruserid", "ordervalue"),
        {
            "customer_id": ("Buyer User ID", "Buyer"),
            "order_date": ("Sale Date",),
            "order_id": ("Order ID",),
            "amount": ("Order Value",),
            "gross_total": ("Order Total",),
            "adjusted_total": ("Adjusted Order Total",),
            "status": ("Status",),
            "currency": ("Currency",),
        },
        "Sale Date is written month-first (12/31/22)",
        date_order="mdy",
    ),
    Export(
        "square",
        ("date", "time", "timezone", "netsales", "transactionid", "eventtype"),
        {
            "customer_id": ("Customer ID",),
            "order_date": ("Date",),
            "order_id": ("Payment ID", "Transaction ID"),
            "amount": ("Net Sales",),
            "quantity": ("Qty",),
            "status": ("Event Type",),
            "product_id": ("SKU", "Item"),
            "channel": ("Location",),
        },
        "rows with Event Type = Refund are returns of the sale with the same Payment ID",
    ),
)


@dataclass(frozen=True)
class Resolved:
    """Where a canonical column comes from."""

    canonical: str
    source: str
    reason: str  # "flag", "config", "export:<name>", "synonym"


@dataclass
class ColumnMap:
    """The resolved mapping of one input."""

    kind: Kind
    columns: dict[str, Resolved] = field(default_factory=dict)
    export: str | None = None

    def get(self, canonical: str) -> str | None:
        found = self.columns.get(canonical)
        return found.source if found else None

    def __contains__(self, canonical: str) -> bool:
        return canonical in self.columns


def load_config(path: Path | None) -> dict[str, Any]:
    """Read the YAML config (``./retcalc.yaml`` when no path is given) with the one safe
    loader, :func:`retcalc.yamlsafe.load_yaml_file`."""
    flag = "--config"
    if path is None:
        default = Path("retcalc.yaml")
        if not default.is_file():
            return {}
        path, flag = default, "config"
    from retcalc.yamlsafe import load_yaml_file  # PyYAML only when a config is read

    data, _ = load_yaml_file(path, flag)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping at the top level (e.g. 'orders: ...')")
    return data


def config_columns(config: Mapping[str, Any], kind: Kind) -> dict[str, str]:
    """The ``columns`` for ``kind`` from a config: ``{orders: {customer_id: "Client"}}``.

    A top-level ``columns:`` mapping applies to the orders file.
    """
    section: Any = config.get(kind.value, {})
    if isinstance(section, dict) and "columns" in section:
        section = section["columns"]
    if kind is Kind.orders and not section:
        section = config.get("columns", {})
    if not isinstance(section, dict):
        raise UsageError(f"config: '{kind.value}' must map canonical names to column names")
    known = {c.name for c in COLUMNS[kind]}
    for key in section:
        if key not in known:
            raise UsageError(
                f"config: '{kind.value}.{key}' is not a {kind.value} column; "
                f"known: {', '.join(sorted(known))}"
            )
    return {str(k): str(v) for k, v in section.items() if v is not None}


def detect_export(headers: Sequence[str]) -> Export | None:
    """The first known export whose signature headers are all present."""
    present = {normalize(h) for h in headers}
    for export in EXPORTS:
        if all(sig in present for sig in export.signature):
            return export
    return None


def suggest(name: str, headers: Sequence[str]) -> str:
    """`` (closest: 'a', 'b')`` or an empty string."""
    by_norm = {normalize(h): h for h in headers}
    close = difflib.get_close_matches(normalize(name), list(by_norm), n=3, cutoff=0.5)
    if not close:
        return ""
    return " (closest: " + ", ".join(repr(by_norm[c]) for c in close) + ")"


def resolve(
    headers: Sequence[str],
    kind: Kind,
    *,
    name: str,
    flags: Mapping[str, str | None],
    config: Mapping[str, str],
    source: str | None = None,
) -> ColumnMap:
    """Map each canonical column of ``kind`` to one of ``headers``."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalize(header), header)
    result = ColumnMap(kind)

    export: Export | None = None
    if source:
        matches = [e for e in EXPORTS if e.name == source.lower()]
        if not matches:
            raise UsageError(
                f"--source {source!r} is not known; known: {', '.join(e.name for e in EXPORTS)}"
            )
        export = matches[0]
    elif kind is Kind.orders:
        export = detect_export(headers)
    if export is not None:
        result.export = export.name

    def lookup(wanted: str) -> str | None:
        if wanted in headers:
            return wanted
        return by_norm.get(normalize(wanted))

    used: set[str] = set()
    for column in COLUMNS[kind]:
        chosen: Resolved | None = None
        flag = flags.get(column.name)
        if flag:
            found = lookup(flag)
            if found is None:
                raise InputError(
                    f"{name}: no column {flag!r} (given for {column.name})"
                    f"{suggest(flag, headers)}; columns are: {', '.join(headers)}"
                )
            chosen = Resolved(column.name, found, "flag")
        elif column.name in config:
            wanted = config[column.name]
            found = lookup(wanted)
            if found is None:
                raise InputError(
                    f"{name}: no column {wanted!r} (config maps {column.name} to it)"
                    f"{suggest(wanted, headers)}"
                )
            chosen = Resolved(column.name, found, "config")
        elif export is not None and column.name in export.columns:
            for candidate in export.columns[column.name]:
                found = lookup(candidate)
                if found is not None and found not in used:
                    chosen = Resolved(column.name, found, f"export:{export.name}")
                    break
        if chosen is None and not (export is not None and column.name in export.columns):
            for synonym in column.synonyms:
                found = by_norm.get(normalize(synonym))
                if found is not None and found not in used:
                    chosen = Resolved(column.name, found, "synonym")
                    break
        if chosen is not None:
            used.add(chosen.source)
            result.columns[column.name] = chosen
    return result


def require(mapping: ColumnMap, names: Sequence[str], headers: Sequence[str], *, name: str) -> None:
    """Fail with the missing canonical columns, a flag to pass, and the closest headers."""
    for canonical in names:
        if canonical in mapping:
            continue
        flag = "--" + canonical.replace("_id", "").replace("_", "-") + "-col"
        flag = {"--order-date-col": "--date-col", "--customer-col": "--customer-col"}.get(
            flag, flag
        )
        raise InputError(
            f"{name}: no {canonical} column found{suggest(canonical, headers)}; "
            f"columns are: {', '.join(headers)}. Name it with {flag} or in retcalc.yaml"
        )
