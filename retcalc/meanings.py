"""What a row means: the one table from raw status to meaning (SPEC §1, "What a row means").

Every reader (in memory, streaming, Spark) replaces the raw status of each row
by its meaning with :func:`meaning_expr`, and every metric reads only the
meaning (:data:`PURCHASE`, :data:`NO_SALE`, :data:`REFUNDED`). The table is,
in the order in which a word is looked up (the first that knows it wins):

1. the user's words: ``--status-map RAW=MEANING`` (repeatable), then
   ``statuses:`` in the YAML config;
2. the words of the recognised export layout (Shopify, WooCommerce, Stripe,
   Square, Etsy);
3. the built-in English words of :data:`BUILT_IN`.

Words are compared after :func:`normal_word` (trimmed, lower case, runs of
spaces, ``_`` and ``-`` as one space, WooCommerce's ``wc-`` prefix dropped).
A word no table knows is a sale (``paid``), named on stderr with its row
count; ``--strict`` refuses it. A row whose status is empty has no meaning of
its own: it takes its order's (Shopify writes the status on an order's first
line only), else it is a sale.

| meaning | a purchase? | revenue |
|---|---|---|
| ``paid`` | yes | amount − refund_amount (a refund figure on the row nets it) |
| ``pending`` | no | none |
| ``failed`` | no | none |
| ``cancelled`` | no | none |
| ``refunded``, ``returned`` | yes | amount − refund_amount; 0 without a refund figure |
| ``partially_refunded`` | yes | amount − refund_amount |
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl

from retcalc.errors import UsageError


class Meaning(StrEnum):
    """What a row is, whatever its export calls it."""

    paid = "paid"
    pending = "pending"
    failed = "failed"
    cancelled = "cancelled"
    refunded = "refunded"
    partially_refunded = "partially_refunded"
    returned = "returned"


#: The dtype of a meaning column: one small integer per row, not a string.
MEANING = pl.Enum([m.value for m in Meaning])

#: Meanings of a purchase: the customer bought (a refund nets the revenue, it does not undo the order).
PURCHASE: tuple[str, ...] = ("paid", "refunded", "partially_refunded", "returned")
#: Meanings of rows that are no sale at all: never a purchase, no revenue, not in sales.
NO_SALE: tuple[str, ...] = ("pending", "failed", "cancelled")
#: Meanings whose whole row was given back unless a refund figure says how much.
REFUNDED: tuple[str, ...] = ("refunded", "returned")

#: One line per meaning: what it is, for help texts, ``inspect`` and the docs.
DESCRIPTIONS: dict[str, str] = {
    "paid": "a purchase; revenue = amount - refund (a refund figure on the row nets it)",
    "pending": "not paid yet: not a purchase, no revenue",
    "failed": "declined, uncaptured, voided or expired: nothing",
    "cancelled": "cancelled: nothing",
    "refunded": "a purchase given back: revenue = amount - refund (0 without a refund figure)",
    "partially_refunded": "a purchase partly given back: revenue = amount - refund",
    "returned": "a purchase returned: revenue = amount - refund (0 without a refund figure)",
}

#: The built-in English words (compared after :func:`normal_word`).
BUILT_IN: dict[str, str] = {
    **dict.fromkeys(
        (
            "paid",
            "completed",
            "complete",
            "processing",
            "fulfilled",
            "succeeded",
            "success",
            "successful",
            "captured",
            "shipped",
            "delivered",
            "settled",
            "closed",
            "active",
        ),
        "paid",
    ),
    **dict.fromkeys(
        (
            "pending",
            "pending payment",
            "payment pending",
            "unpaid",
            "awaiting payment",
            "authorized",
            "authorised",
            "on hold",
            "draft",
            "open",
        ),
        "pending",
    ),
    **dict.fromkeys(
        ("failed", "declined", "uncaptured", "voided", "expired", "abandoned", "rejected"),
        "failed",
    ),
    **dict.fromkeys(("cancelled", "canceled", "void"), "cancelled"),
    **dict.fromkeys(("refunded", "refund", "chargeback", "charged back"), "refunded"),
    **dict.fromkeys(
        ("partially refunded", "partial refund", "partly refunded"), "partially_refunded"
    ),
    **dict.fromkeys(("returned", "return"), "returned"),
}

#: Words of each export layout (its own statuses, where they differ from the built-in ones).
LAYOUT_WORDS: dict[str, dict[str, str]] = {
    # Financial Status: pending, authorized, partially_paid, paid, partially_refunded,
    # refunded, voided, expired. A partly paid order (a deposit) is a sale.
    "shopify": {"partially paid": "paid", "voided": "failed", "expired": "failed"},
    # Order Status: Completed, Processing, On hold, Pending payment, Failed, Cancelled,
    # Refunded, Draft (also written with the wc- prefix).
    "woocommerce": {"checkout draft": "pending", "on hold": "pending"},
    # Status: Paid, Refunded, Failed, plus Captured = false (see CAPTURED_FALSE).
    "stripe": {"disputed": "paid", "canceled": "failed", "requires payment method": "failed"},
    # Event Type: Payment, Refund (a refund row is a negative line of the payment).
    "square": {"payment": "paid", "refund": "refunded"},
    # Status: Completed, Canceled, Refunded...
    "etsy": {"canceled": "cancelled", "cancelled": "cancelled"},
}

#: Values of a ``Captured`` column that say the charge never went through (Stripe).
CAPTURED_FALSE: tuple[str, ...] = ("false", "f", "no", "n", "0")


def normal_word(raw: str) -> str:
    """A status word as the tables know it: trimmed, lower case, separators as one space."""
    word = re.sub(r"[\s_\-]+", " ", raw.strip().lower()).strip()
    return word.removeprefix("wc ")


def _meaning(text: Any, where: str) -> str:
    value = normal_word(str(text)).replace(" ", "_")
    if value not in DESCRIPTIONS:
        raise UsageError(
            f"{where}: {text!r} is not a meaning; use one of {', '.join(DESCRIPTIONS)}"
        )
    return value


def parse_status_map(items: Iterable[str]) -> dict[str, str]:
    """``--status-map RAW=MEANING`` values as ``{normal word: meaning}``."""
    out: dict[str, str] = {}
    for item in items:
        raw, sep, meaning = item.partition("=")
        if not sep or not raw.strip():
            raise UsageError(
                f"--status-map {item!r}: expected RAW=MEANING, e.g. --status-map storniert=cancelled"
            )
        out[normal_word(raw)] = _meaning(meaning, f"--status-map {item!r}")
    return out


def config_statuses(config: Mapping[str, Any]) -> dict[str, str]:
    """``statuses:`` of the YAML config (``{storniert: cancelled}``) as ``{normal word: meaning}``."""
    section = config.get("statuses")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise UsageError(
            "config: 'statuses' must map raw status words to meanings, e.g. "
            "'statuses: {storniert: cancelled}'"
        )
    return {
        normal_word(str(raw)): _meaning(meaning, f"config: statuses.{raw}")
        for raw, meaning in section.items()
    }


@dataclass(frozen=True)
class StatusTable:
    """The words of one run: the user's, then the layout's, then the built-in ones."""

    user: Mapping[str, str] = field(default_factory=dict)
    layout: str | None = None

    def lookup(self, raw: str) -> tuple[str | None, str]:
        """The meaning of a raw value and where it came from (``user``, ``layout``,
        ``built-in``, ``unknown``; ``empty`` for a blank value, meaning None)."""
        word = normal_word(raw)
        if not word:
            return None, "empty"
        if word in self.user:
            return self.user[word], "user"
        layout = LAYOUT_WORDS.get(self.layout or "", {})
        if word in layout:
            return layout[word], "layout"
        if word in BUILT_IN:
            return BUILT_IN[word], "built-in"
        return Meaning.paid.value, "unknown"


@dataclass(frozen=True)
class Census:
    """The distinct raw statuses of an input with their row counts and meanings."""

    rows: tuple[tuple[str, int, str | None, str], ...]  # raw, count, meaning, origin

    @property
    def values(self) -> dict[str, str | None]:
        """Raw value -> meaning, for :func:`meaning_expr`."""
        return {raw: meaning for raw, _, meaning, _ in self.rows}

    def unknown(self) -> list[tuple[str, int]]:
        return [(raw, n) for raw, n, _, origin in self.rows if origin == "unknown"]

    def frame(self) -> pl.DataFrame:
        """``status, rows, meaning, from`` (for ``inspect``), most rows first."""
        return pl.DataFrame(
            self.rows,
            schema={"status": pl.String, "rows": pl.Int64, "meaning": pl.String, "from": pl.String},
            orient="row",
        ).sort("rows", "status", descending=[True, False])


def census(counts: pl.DataFrame, table: StatusTable) -> Census:
    """The census of ``counts`` (``status``: each distinct raw value, ``len``: its rows)."""
    rows = []
    for raw, count in counts.select(pl.col("status").cast(pl.String), "len").iter_rows():
        if raw is None:
            continue
        meaning, origin = table.lookup(raw)
        rows.append((raw, int(count), meaning, origin))
    return Census(tuple(rows))


def meaning_expr(raw: pl.Expr, values: Mapping[str, str | None]) -> pl.Expr:
    """Each row's meaning from its raw status (``values``: a :class:`Census`' raw value ->
    meaning). A value the census did not see is a sale; an empty one has no meaning."""
    text = raw.cast(pl.String)
    by_meaning: dict[str | None, list[str]] = {}
    for value, meaning in values.items():
        by_meaning.setdefault(meaning, []).append(value)
    # One membership test per meaning the input uses (a few): lighter on the streaming
    # engine than ``replace_strict``, which held more memory per row (bench/results-reading.md).
    chain: Any = pl.when(text.is_null()).then(pl.lit(None, dtype=MEANING))
    for meaning, words in by_meaning.items():
        if meaning != Meaning.paid.value:
            chain = chain.when(text.is_in(words)).then(pl.lit(meaning, dtype=MEANING))
    return chain.otherwise(pl.lit(Meaning.paid.value, dtype=MEANING))


def captured_expr(raw: pl.Expr) -> pl.Expr:
    """True where a ``Captured`` column says the charge never went through."""
    return (
        raw.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .is_in(CAPTURED_FALSE)
        .fill_null(False)
    )


def with_captured(meaning: pl.Expr, captured: pl.Expr | None) -> pl.Expr:
    """``meaning``, ``failed`` where ``captured`` (see :func:`captured_expr`) is true."""
    if captured is None:
        return meaning
    return pl.when(captured).then(pl.lit(Meaning.failed.value, dtype=MEANING)).otherwise(meaning)
