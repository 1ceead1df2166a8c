"""Canonical column names and their synonyms in real exports.

Synonyms are compared after :func:`normalize`, which lower-cases a header and
drops everything that is not a letter or a digit, so ``Customer ID``,
``customer_id`` and ``CustomerID`` are the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


def normalize(name: str) -> str:
    """Case- and punctuation-insensitive form of a column name."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


class Kind(StrEnum):
    """Which input a column set describes."""

    orders = "orders"
    customers = "customers"


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, whether it is required, and synonyms in priority order."""

    name: str
    required: bool
    synonyms: tuple[str, ...]
    help: str


ORDER_COLUMNS: tuple[Column, ...] = (
    Column(
        "customer_id",
        True,
        (
            "customer_id",
            "customerid",
            "customer",
            "customer_no",
            "customer_number",
            "cust_id",
            "client_id",
            "clientid",
            "client",
            "user_id",
            "userid",
            "user",
            "account_id",
            "member_id",
            "buyer_user_id",
            "buyer_id",
            "user_uuid",
            "customer_uuid",
            "account_uuid",
            "client_number",
            "client_no",
            "shopper_id",
            "contact_id",
            "email",
            "customer_email",
            "email_billing",
            "user_email",
            "buyer_email",
            "buyer",
        ),
        "who bought",
    ),
    Column(
        "order_date",
        True,
        (
            "order_date",
            "orderdate",
            "invoice_date",
            "invoicedate",
            "created_at",
            "created",
            "created_utc",
            "created_date_utc",
            "purchase_date",
            "sale_date",
            "transaction_date",
            "order_datetime",
            "order_time",
            "order_timestamp",
            "order_created_at",
            "ordered_at",
            "purchased_at",
            "placed_at",
            "created_ts",
            "created_on",
            "purchase_timestamp",
            "date",
            "datetime",
            "timestamp",
        ),
        "when the order was placed",
    ),
    Column(
        "amount",
        False,
        (
            "amount",
            "net_amount",
            "total",
            "revenue",
            "order_total",
            "order_value",
            "value",
            "net_sales",
            "sales",
            "grand_total",
            "order_total_amount",
            "line_total",
            "subtotal",
            "total_amount",
            "gross_amount",
            "total_cents",
            "amount_cents",
            "amount_in_cents",
            "total_in_cents",
            "amount_minor",
            "total_minor",
        ),
        "net value of the row",
    ),
    Column(
        "order_id",
        False,
        (
            "order_id",
            "orderid",
            "order_no",
            "order_number",
            "invoice_no",
            "invoiceno",
            "invoice",
            "invoice_id",
            "transaction_id",
            "receipt_id",
        ),
        "groups the lines of one order",
    ),
    Column(
        "quantity",
        False,
        ("quantity", "qty", "units", "lineitem_quantity", "items", "item_quantity"),
        "units on the row; negative is a return",
    ),
    Column(
        "unit_price",
        False,
        ("unit_price", "unitprice", "price", "lineitem_price", "item_price", "item_cost"),
        "price of one unit (amount = unit_price * quantity when there is no amount)",
    ),
    Column(
        "returned_quantity",
        False,
        ("returned_quantity", "qty_returned", "quantity_returned", "returned_units"),
        "units of the row that were returned",
    ),
    Column(
        "refund_amount",
        False,
        ("refund_amount", "refunded_amount", "amount_refunded", "refund", "order_refund_amount"),
        "money refunded on the row",
    ),
    Column(
        "status",
        False,
        ("status", "order_status", "financial_status", "payment_status", "state"),
        "what the row is: paid, pending, failed, cancelled, refunded... (see retcalc.meanings)",
    ),
    Column(
        "gross_total",
        False,
        (),
        "the order's total before refunds (Etsy's Order Total; only with adjusted_total)",
    ),
    Column(
        "adjusted_total",
        False,
        (),
        "the order's total after refunds (Etsy's Adjusted Order Total): refund = the difference",
    ),
    Column(
        "captured",
        False,
        ("captured",),
        "false: the charge never went through (Stripe), so the row is no sale",
    ),
    Column(
        "product_id",
        False,
        ("product_id", "productid", "sku", "stock_code", "stockcode", "product", "item_id", "item"),
        "dimension for --by",
    ),
    Column("segment", False, ("segment", "customer_segment", "tier"), "dimension for --by"),
    Column("channel", False, ("channel", "sales_channel", "source"), "dimension for --by"),
    Column(
        "currency",
        False,
        (
            "currency",
            "currency_code",
            "currencycode",
            "order_currency",
            "presentment_currency",
            "transaction_currency",
            "payment_currency",
            "iso_currency",
        ),
        "the currency of the row's amounts (see docs/inputs.md, Currencies)",
    ),
)

CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column(
        "customer_id",
        True,
        (
            "customer_id",
            "customerid",
            "customer",
            "client_id",
            "user_id",
            "account_id",
            "id",
            "email",
        ),
        "the customer",
    ),
    Column(
        "signup_date",
        False,
        (
            "signup_date",
            "signupdate",
            "signed_up",
            "signed_up_at",
            "subscription_start",
            "start_date",
            "start_date_utc",
            "start_utc",
            "start",
            "join_date",
            "joined",
            "registered_at",
            "created_at",
            "created",
        ),
        "start of the subscription",
    ),
    Column(
        "churn_date",
        False,
        (
            "churn_date",
            "churned_at",
            "cancel_date",
            "cancelled_at",
            "canceled_at",
            "cancellation_date",
            "ended_at_utc",
            "ended_at",
            "end_date",
            "canceled_at_utc",
        ),
        "cancellation; empty while still active",
    ),
    Column("segment", False, ("segment", "customer_segment", "tier", "plan"), "dimension for --by"),
    Column(
        "cost_to_serve",
        False,
        ("cost_to_serve", "costtoserve", "service_cost", "annual_cost"),
        "yearly cost of serving the customer",
    ),
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.orders: ORDER_COLUMNS,
    Kind.customers: CUSTOMER_COLUMNS,
}
