"""Which columns ``--by`` may split by: one check, shared by every command and engine.

A ``--by`` column is a dimension: a label that many rows share (channel, segment,
product_id, country, ...). The columns that carry a row's measures, identity or
meaning are not: splitting by ``amount`` makes a group per distinct amount, and
``status``, ``order_id`` and ``order_date`` decide which rows count, what an
order is and which period a row falls in. ``customer_id`` is left to the
commands (``returns`` ranks customers; the period metrics refuse it themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retcalc.errors import UsageError
from retcalc.io.mapping import ColumnMap

#: The order columns that are no dimension, and why.
NOT_DIMENSIONS: dict[str, str] = {
    "amount": "a measure (each row's net value, summed into revenue)",
    "quantity": "a measure (the units on each row)",
    "unit_price": "a measure (the price of each unit)",
    "refund_amount": "a measure (what each row refunded)",
    "returned_quantity": "a measure (the units each row returned)",
    "order_id": "each order's identity (every order would be a group of its own)",
    "order_date": "each row's date (the periods already split by it: use --period)",
    "status": "what each row is (paid, refunded, cancelled...: it decides which rows count)",
    "captured": "whether each charge went through (it decides which rows count)",
    "gross_total": "a measure (the order's total before refunds)",
    "adjusted_total": "a measure (the order's total after refunds)",
}

INSTEAD = (
    "split by a dimension that many rows share: channel, segment, product_id "
    "or any other column of the file"
)


def check_by(dimensions: Sequence[str], mapping: ColumnMap, *, name: str) -> None:
    """Refuse a ``--by`` column that is, or is read as, a measure or a row's identity,
    date or status (exit 2, saying why and what to use)."""
    for dim in dimensions:
        if dim in NOT_DIMENSIONS:
            what = f"{dim} is {NOT_DIMENSIONS[dim]}"
        else:
            canonical = next(
                (c for c in NOT_DIMENSIONS if c in mapping and mapping.get(c) == dim), None
            )
            if canonical is None:
                continue
            what = f"{name} reads {dim!r} as {canonical}, {NOT_DIMENSIONS[canonical]}"
        raise UsageError(f"--by {dim}: {what}, not a dimension; {INSTEAD}")


#: ``--by first:DIM``: the customer's value of DIM on their first purchase.
FIRST = "first:"


@dataclass(frozen=True)
class Dimension:
    """One ``--by`` value: ``column`` of the rows, per order (``--by channel``), or the
    customer's value on their first purchase (``--by first:channel``, ``first``), which
    groups under the column ``first_channel`` (:attr:`key`)."""

    column: str
    first: bool = False

    @property
    def key(self) -> str:
        """The column the figures are grouped by, and printed under."""
        return f"first_{self.column}" if self.first else self.column


def parse_by(by: str | Sequence[str]) -> tuple[Dimension, ...]:
    """The ``--by`` values as dimensions, each key once, in the order given."""
    found: dict[str, Dimension] = {}
    for text in (by,) if isinstance(by, str) else by:
        first = text.startswith(FIRST)
        column = text[len(FIRST) :].strip() if first else text
        if not column:
            raise UsageError(
                f"--by {text!r}: name the column after first:, e.g. --by first:channel"
            )
        if first and column == "customer_id":
            raise UsageError(
                "--by first:customer_id would make every customer a group of one; "
                f"{INSTEAD}, e.g. --by first:channel"
            )
        dim = Dimension(column, first)
        if dim.key in found and found[dim.key] != dim:
            raise UsageError(
                f"--by {text} and --by {dim.key} would both be printed as {dim.key}: drop one"
            )
        found[dim.key] = dim
    return tuple(found.values())


def read_columns(dimensions: Sequence[Dimension]) -> tuple[str, ...]:
    """The input columns the dimensions are read from, each once."""
    return tuple(dict.fromkeys(d.column for d in dimensions))
